/**
 * Dashboards and alerts proven on live data: the whole stack with the load generator, then
 * every panel query of every dashboard returns data, every metric name a dashboard or rule uses
 * exists, nothing fires under normal load, and real faults fire their alerts all the way to the
 * notifier and resolve when the fault ends: a stopped service fires ServiceDown, injected
 * errors fire HighErrorRate.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { panelQueries } from '@tradeobs/dashboards';
import { queryLogs } from '../../infra/runner/logs.ts';
import { repoRoot } from '../../infra/runner/paths.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { eventually } from '../support/poll.ts';
import { query } from '../support/prometheus.ts';
import { metricNames, withVariables } from '../support/promql.ts';
import { useTemporaryStackState } from '../support/stack.ts';

/**
 * Series the collector creates only once a failure happens (it has no zero for them): the
 * dashboards and rules use them, and they cannot exist on a healthy pipeline.
 */
const failureOnlySeries = new Set([
  'otelcol_exporter_send_failed_spans',
  'otelcol_exporter_send_failed_metric_points',
  'otelcol_exporter_enqueue_failed_spans',
  'otelcol_exporter_enqueue_failed_metric_points',
  'otelcol_exporter_send_failed_log_records',
  'otelcol_exporter_enqueue_failed_log_records',
]);

async function ruleExpressions(): Promise<{ name: string; expr: string }[]> {
  const dir = join(repoRoot, 'infra/prometheus/rules');
  const files = (await readdir(dir)).filter((file) => file.endsWith('.yml'));
  const rules: { name: string; expr: string }[] = [];
  for (const file of files) {
    const content = parse(await readFile(join(dir, file), 'utf8')) as {
      groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
    };
    for (const group of content.groups) {
      for (const rule of group.rules) rules.push({ name: rule.alert ?? rule.record ?? '?', expr: rule.expr });
    }
  }
  return rules;
}

interface NotifiedAlert {
  alertname: string;
  labels: Record<string, string>;
}

async function notified(): Promise<NotifiedAlert[]> {
  const response = await fetch(`http://${LOOPBACK}:${ports.notifier}/alerts`);
  return ((await response.json()) as { firing: NotifiedAlert[] }).firing;
}

async function firing(alertname: string, job: string): Promise<boolean> {
  const samples = await query(`ALERTS{alertname="${alertname}", job="${job}", alertstate="firing"}`);
  return samples.length > 0;
}

/** Waits for the alert to fire in Prometheus and reach the notifier, then for both to clear. */
async function firesAndResolves(
  alertname: string,
  job: string,
  fault: { start(): Promise<void>; end(): Promise<void> },
) {
  await fault.start();
  const startedAt = Date.now();
  await eventually(
    `${alertname}{job="${job}"} firing`,
    async () => ((await firing(alertname, job)) ? true : undefined),
    {
      timeoutMs: 5 * 60_000,
      intervalMs: 5_000,
    },
  );
  await eventually(`${alertname}{job="${job}"} delivered to the notifier`, async () => {
    const alerts = await notified();
    return alerts.some((a) => a.alertname === alertname && a.labels.job === job) ? true : undefined;
  });
  const firedAfter = (Date.now() - startedAt) / 1000;
  await fault.end();
  await eventually(
    `${alertname}{job="${job}"} resolved`,
    async () => {
      const alerts = await notified();
      const stillNotified = alerts.some((a) => a.alertname === alertname && a.labels.job === job);
      return !(await firing(alertname, job)) && !stillNotified ? true : undefined;
    },
    { timeoutMs: 6 * 60_000, intervalMs: 5_000 },
  );
  process.stdout.write(
    `# ${alertname}{job="${job}"} fired ${firedAfter.toFixed(0)} s after the fault, and resolved\n`,
  );
}

async function setErrorRate(errorRate: number): Promise<void> {
  const response = await fetch(`http://${LOOPBACK}:${ports.api}/admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errorRate }),
  });
  assert.equal(response.status, 200);
}

describe('dashboards and alerts on live data', { timeout: 25 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    Object.assign(process.env, {
      TICK_INTERVAL_MS: '250',
      SIGNAL_COOLDOWN_MS: '2000',
      OTEL_METRIC_EXPORT_INTERVAL: '2000',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      LOADGEN_RATE: '10',
      FAULT_INJECTION: 'enabled',
    });
    await startStack();
  });

  after(async () => {
    await stopStack();
  });

  it('every query of every dashboard panel returns data', async () => {
    const queries = panelQueries();
    assert.ok(queries.length > 50);
    const deadline = Date.now() + 5 * 60_000;
    let empty: string[];
    do {
      empty = [];
      for (const panel of queries) {
        const result =
          panel.language === 'promql'
            ? await query(withVariables(panel.expr))
            : await queryLogs(withVariables(panel.expr), 1);
        if (result.length === 0) empty.push(`${panel.dashboard} / ${panel.panel}: ${panel.expr}`);
      }
      if (empty.length === 0) break;
      await sleep(10_000);
    } while (Date.now() < deadline);
    assert.deepEqual(empty, [], `${empty.length} of ${queries.length} panel queries return no data`);
  });

  it('every metric name used by a dashboard or a rule exists in Prometheus', async () => {
    const used = new Map<string, string>();
    for (const panel of panelQueries().filter((query) => query.language === 'promql'))
      for (const name of metricNames(panel.expr)) used.set(name, `panel ${panel.dashboard} / ${panel.panel}`);
    for (const rule of await ruleExpressions())
      for (const name of metricNames(rule.expr)) used.set(name, `rule ${rule.name}`);
    // ALERTS is Prometheus's own series of alert states; it exists once something is pending.
    used.delete('ALERTS');
    const response = await fetch(`http://${LOOPBACK}:${ports.prometheus}/api/v1/label/__name__/values`);
    const existing = new Set(((await response.json()) as { data: string[] }).data);
    const missing = [...used]
      .filter(([name]) => !existing.has(name) && !failureOnlySeries.has(name))
      .map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(
      missing,
      [],
      'names used but not in Prometheus: a rename, or a series that is never produced',
    );
  });

  it('nothing fires under normal load', async () => {
    const alerts = await query('ALERTS{alertstate="firing"}');
    assert.deepEqual(
      alerts.map((sample) => `${sample.metric.alertname} ${JSON.stringify(sample.metric)}`),
      [],
    );
  });

  it('a stopped service fires ServiceDown and injected errors fire HighErrorRate; both resolve', async () => {
    await Promise.all([
      firesAndResolves('ServiceDown', 'worker', {
        start: () => stopStack(undefined, ['worker']),
        end: async () => {
          await startStack(undefined, ['worker']);
        },
      }),
      firesAndResolves('HighErrorRate', 'api', {
        start: () => setErrorRate(0.5),
        end: () => setErrorRate(0),
      }),
    ]);
  });
});
