/**
 * Alertmanager's routing, checked by Alertmanager's own tool: `amtool config routes test` on the
 * rendered config says which receiver an alert with these labels reaches. Inhibition has no
 * offline tool: Alertmanager itself runs here on a free loopback port, is given alerts by its API
 * and says which it suppresses (tests/e2e/observability.test.ts proves it with real alerts on the
 * live stack).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stackEnvironment } from '../../infra/runner/components.ts';
import { run } from '../../infra/runner/exec.ts';
import { type Binaries, ensureInstalled } from '../../infra/runner/install.ts';
import { repoRoot, statePaths } from '../../infra/runner/paths.ts';
import { renderFile } from '../../infra/runner/render.ts';
import { LOOPBACK } from '../../infra/runner/ports.ts';
import { readSettings } from '../../infra/runner/settings.ts';
import { eventually } from '../support/poll.ts';

let binaries: Binaries;
let config: string;

before(async () => {
  process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'stack-alertmanager-'));
  binaries = await ensureInstalled();
  config = await renderFile(
    join(repoRoot, 'infra/alertmanager/alertmanager.yml'),
    stackEnvironment(readSettings({})),
    statePaths.config(),
  );
});

const cases: { labels: Record<string, string>; receiver: string; why: string }[] = [
  {
    labels: { alertname: 'Watchdog', severity: 'none' },
    receiver: 'watchdog',
    why: 'the notifier expects it',
  },
  {
    labels: { alertname: 'ServiceDown', severity: 'critical', job: 'api' },
    receiver: 'page',
    why: 'critical pages',
  },
  {
    labels: { alertname: 'HighPortfolioDrawdown', severity: 'critical', job: 'worker' },
    receiver: 'page',
    why: 'the portfolio in trouble pages',
  },
  {
    labels: { alertname: 'RiskLimitBreach', severity: 'warning', team: 'trading', job: 'worker' },
    receiver: 'strategy-owner',
    why: 'a risk limit doing its job is a trading decision',
  },
  {
    labels: { alertname: 'HighErrorRate', severity: 'warning', job: 'api' },
    receiver: 'ticket',
    why: 'warnings are for working hours',
  },
  {
    labels: { alertname: 'SomethingNew' },
    receiver: 'ticket',
    why: 'an alert without a severity is not lost',
  },
  {
    labels: { alertname: 'ServiceInstanceDown', severity: 'warning', via: 'collector', job: 'worker' },
    receiver: 'ticket',
    why: 'one instance of several down is for working hours',
  },
  {
    labels: { alertname: 'NatsJetStreamQuorumLost', severity: 'critical', job: 'nats' },
    receiver: 'page',
    why: 'JetStream without a quorum stops the platform',
  },
  {
    labels: { alertname: 'NatsNodeDown', severity: 'warning', job: 'nats', instance: '127.0.0.1:8223' },
    receiver: 'ticket',
    why: 'a cluster that keeps its majority works on',
  },
];

describe('alertmanager routing', () => {
  for (const { labels, receiver, why } of cases) {
    const pairs = Object.entries(labels).map(([name, value]) => `${name}=${value}`);
    it(`${pairs.join(' ')} goes to ${receiver}: ${why}`, async () => {
      // --verify.receivers makes amtool exit non-zero when the route ends elsewhere.
      await run(`amtool config routes test ${pairs.join(' ')}`, binaries.amtool, [
        'config',
        'routes',
        'test',
        `--config.file=${config}`,
        `--verify.receivers=${receiver}`,
        ...pairs,
      ]);
    });
  }
});

/** A loopback port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

interface AlertState {
  labels: Record<string, string>;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[] };
}

describe('alertmanager inhibition', () => {
  let alertmanager: ChildProcess | undefined;
  let api: string;

  before(async () => {
    const port = await freePort();
    api = `http://${LOOPBACK}:${port}/api/v2`;
    alertmanager = spawn(
      binaries.alertmanager,
      [
        `--config.file=${config}`,
        `--storage.path=${await mkdtemp(join(tmpdir(), 'alertmanager-inhibition-'))}`,
        `--web.listen-address=${LOOPBACK}:${port}`,
        '--cluster.listen-address=',
      ],
      { stdio: 'ignore' },
    );
    await eventually('alertmanager ready', async () => {
      const response = await fetch(`http://${LOOPBACK}:${port}/-/ready`);
      return response.ok ? true : undefined;
    });
  });

  after(() => {
    alertmanager?.kill();
  });

  /** Fires these alerts (for the next 10 minutes) in the test's Alertmanager. */
  async function fire(alerts: Record<string, string>[]): Promise<void> {
    const endsAt = new Date(Date.now() + 10 * 60_000).toISOString();
    const response = await fetch(`${api}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts.map((labels) => ({ labels, endsAt }))),
    });
    assert.equal(response.status, 200, await response.text());
  }

  /** Waits until every alert named has the state given, and says which do not. */
  async function expectStates(expected: [labels: Record<string, string>, 'active' | 'suppressed'][]) {
    const key = (labels: Record<string, string>) =>
      JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    let wrong: string[] = [];
    try {
      await eventually(
        'the inhibitions',
        async () => {
          const states = new Map(
            ((await (await fetch(`${api}/alerts`)).json()) as AlertState[]).map((alert) => [
              key(alert.labels),
              alert.status.state,
            ]),
          );
          wrong = expected
            .filter(([labels, state]) => states.get(key(labels)) !== state)
            .map(([labels, state]) => `${key(labels)}: ${states.get(key(labels)) ?? 'absent'}, not ${state}`);
          return wrong.length === 0 ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
    } catch {
      assert.deepEqual(wrong, []);
    }
  }

  const serviceDown = { alertname: 'ServiceDown', severity: 'critical', via: 'collector', job: 'worker' };
  const workerInstanceDown = {
    alertname: 'ServiceInstanceDown',
    severity: 'warning',
    via: 'collector',
    job: 'worker',
  };
  const dispatcherInstanceDown = { ...workerInstanceDown, job: 'trigger-dispatcher' };
  const quorumLost = { alertname: 'NatsJetStreamQuorumLost', severity: 'critical', job: 'nats' };
  const nodeDown = {
    alertname: 'NatsNodeDown',
    severity: 'warning',
    job: 'nats',
    instance: '127.0.0.1:8223',
  };
  const fallingBehind = {
    alertname: 'JetStreamConsumerFallingBehind',
    severity: 'warning',
    via: 'collector',
    job: 'worker',
    stream: 'EXECUTIONS',
    consumer: 'worker',
    backlog: 'pending',
  };
  const lagGrowing = {
    alertname: 'JetStreamConsumerLagGrowing',
    severity: 'warning',
    job: 'nats',
    stream: 'EXECUTIONS',
    consumer: 'worker',
  };
  const otherLagGrowing = { ...lagGrowing, stream: 'SIGNALS', consumer: 'trigger-dispatcher' };
  const collectorDown = { alertname: 'TelemetryComponentDown', severity: 'critical', job: 'otel-collector' };

  it('one cause alerts once: ServiceDown over its instances, the quorum over its nodes, the services over the server on a backlog', async () => {
    await fire([
      serviceDown,
      workerInstanceDown,
      dispatcherInstanceDown,
      quorumLost,
      nodeDown,
      fallingBehind,
      lagGrowing,
      otherLagGrowing,
    ]);
    await expectStates([
      [serviceDown, 'active'],
      [workerInstanceDown, 'suppressed'],
      [dispatcherInstanceDown, 'active'],
      [quorumLost, 'active'],
      [nodeDown, 'suppressed'],
      // Inhibited itself (by ServiceDown of the worker), and still the source that inhibits.
      [fallingBehind, 'suppressed'],
      [lagGrowing, 'suppressed'],
      [otherLagGrowing, 'active'],
    ]);
  });

  it('the quorum lost pages once: the flow, the services, the replicas and the SLOs wait', async () => {
    const consequences = [
      { alertname: 'SignalFlowStalled', severity: 'critical', via: 'collector', job: 'trigger-dispatcher' },
      { alertname: 'NatsConnectionErrors', severity: 'warning', via: 'collector', job: 'api' },
      {
        alertname: 'HighKvErrorRate',
        severity: 'warning',
        via: 'collector',
        job: 'api',
        bucket: 'executions',
      },
      { alertname: 'NatsStreamReplicaNotCurrent', severity: 'warning', job: 'nats', stream_name: 'SIGNALS' },
      { alertname: 'ApiAvailabilityErrorBudgetBurn', severity: 'critical', via: 'collector', job: 'api' },
    ];
    await fire([quorumLost, ...consequences]);
    await expectStates([
      [quorumLost, 'active'],
      ...consequences.map((labels): [Record<string, string>, 'suppressed'] => [labels, 'suppressed']),
    ]);
  });

  it("the collector down silences what travels through it, and none of the NATS exporter's alerts", async () => {
    await fire([collectorDown]);
    await expectStates([
      [collectorDown, 'active'],
      [serviceDown, 'suppressed'],
      [dispatcherInstanceDown, 'suppressed'],
      [quorumLost, 'active'],
      [otherLagGrowing, 'active'],
    ]);
  });
});
