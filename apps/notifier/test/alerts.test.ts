import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertBoard, type WebhookAlert, type WebhookPayload } from '../src/alerts.ts';

function alert(alertname: string, status: WebhookAlert['status'], fingerprint = alertname): WebhookAlert {
  return {
    status,
    labels: { alertname, severity: alertname === 'Watchdog' ? 'none' : 'critical', job: 'api' },
    annotations: { summary: `${alertname} summary` },
    startsAt: '2026-12-03T10:00:00Z',
    fingerprint,
  };
}

function payload(receiver: string, ...alerts: WebhookAlert[]): WebhookPayload {
  return {
    version: '4',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver,
    alerts,
  };
}

/** A board on a clock the test moves. */
function board(timeoutMillis = 120_000) {
  let now = Date.parse('2026-12-03T10:00:00Z');
  const alerts = new AlertBoard({ watchdogTimeoutMillis: timeoutMillis, now: () => now });
  return { alerts, advance: (millis: number) => (now += millis) };
}

describe('AlertBoard', () => {
  it('keeps what fires, by fingerprint and with its receiver, until it resolves', () => {
    const { alerts } = board();
    alerts.apply(payload('page', alert('ServiceDown', 'firing', 'a'), alert('ServiceDown', 'firing', 'b')));
    assert.deepEqual(
      alerts.firing().map((a) => [a.alertname, a.receiver]),
      [
        ['ServiceDown', 'page'],
        ['ServiceDown', 'page'],
      ],
    );
    alerts.apply(payload('page', alert('ServiceDown', 'resolved', 'a')));
    assert.equal(alerts.firing().length, 1);
  });

  it('keeps the Watchdog out of what fires, and reports it ok while it keeps arriving', () => {
    const { alerts, advance } = board();
    assert.equal(alerts.watchdog().status, 'waiting');
    advance(20_000);
    alerts.apply(payload('watchdog', alert('Watchdog', 'firing')));
    assert.deepEqual(alerts.firing(), []);
    advance(100_000);
    assert.deepEqual(alerts.watchdog(), { status: 'ok', lastReceivedAt: '2026-12-03T10:00:20.000Z' });
  });

  it('reports the Watchdog missing after the timeout without one, or never received', () => {
    const late = board();
    late.alerts.apply(payload('watchdog', alert('Watchdog', 'firing')));
    late.advance(120_001);
    const missing = late.alerts.watchdog();
    assert.equal(missing.status, 'missing');
    assert.match(missing.status === 'missing' ? missing.reason : '', /no Watchdog notification for 120 s/);

    const never = board();
    never.advance(130_000);
    const state = never.alerts.watchdog();
    assert.equal(state.status, 'missing');
    assert.match(state.status === 'missing' ? state.reason : '', /since the notifier started 130 s ago/);
  });

  it('reports the Watchdog missing at once when Alertmanager resolves it', () => {
    const { alerts, advance } = board();
    alerts.apply(payload('watchdog', alert('Watchdog', 'firing')));
    advance(5_000);
    alerts.apply(payload('watchdog', alert('Watchdog', 'resolved')));
    const state = alerts.watchdog();
    assert.equal(state.status, 'missing');
    assert.match(state.status === 'missing' ? state.reason : '', /Prometheus stopped sending it/);
    alerts.apply(payload('watchdog', alert('Watchdog', 'firing')));
    assert.equal(alerts.watchdog().status, 'ok');
  });
});
