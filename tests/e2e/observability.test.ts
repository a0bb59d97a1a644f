/**
 * Dashboards and alerts proven on live data: the whole stack with the load generator, then
 * every panel query of every dashboard returns data, every metric name a dashboard or rule uses
 * exists, nothing fires under normal load, and real faults fire their alerts all the way to the
 * notifier and resolve when the fault ends: a stopped service fires ServiceDown, injected
 * errors page through the availability SLO with HighErrorRate inhibited. One cause pages once:
 * the collector stopped for two minutes pages TelemetryComponentDown and Alertmanager inhibits
 * the ServiceDown of every service. The Watchdog reaches the notifier, and with Prometheus
 * stopped `npm run stack -- status` reports it missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { panelQueries } from '@tradeobs/dashboards';
import { queryLogs } from '../../infra/runner/logs.ts';
import { repoRoot, sourceCondition, statePaths } from '../../infra/runner/paths.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { eventually } from '../support/poll.ts';
import { query } from '../support/prometheus.ts';
import { metricNames, withVariables } from '../support/promql.ts';
import { QUICK_EXPORT, useTemporaryStackState } from '../support/stack.ts';

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

/**
 * Series of the tail sampler, which the stack's default collector does not run (the gateway
 * profile does, and COLLECTOR_TAIL_SAMPLING=true): tests/e2e/gateway.test.ts reads them live.
 */
const tailSamplingSeries = new Set([
  'otelcol_processor_tail_sampling_global_count_traces_sampled',
  'otelcol_processor_tail_sampling_count_traces_sampled',
  'otelcol_processor_tail_sampling_sampling_traces_on_memory',
  'otelcol_processor_tail_sampling_sampling_trace_dropped_too_early',
]);

/**
 * Series of a NATS cluster, which the stack's default single node does not have (NATS_CLUSTER=3
 * does): the meta group's size and the streams' replicas. The Messaging dashboard shows 0 for
 * them on a single node (orZero), and the replica alert of rules/nats.yml cannot fire there.
 */
const clusterOnlySeries = new Set([
  'jetstream_meta_cluster_size',
  'jetstream_stream_replica_current',
  'jetstream_stream_replica_lag',
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
  receiver: string;
}

async function notifierBoard(): Promise<{ firing: NotifiedAlert[]; watchdog: { status: string } }> {
  const response = await fetch(`http://${LOOPBACK}:${ports.notifier}/alerts`);
  return (await response.json()) as { firing: NotifiedAlert[]; watchdog: { status: string } };
}

async function notified(): Promise<NotifiedAlert[]> {
  return (await notifierBoard()).firing;
}

/** The notifier's log: one line per alert of every notification, with the receiver it came through. */
async function notificationsSince(
  since: number,
): Promise<{ status: string; receiver: string; alertname: string; labels: Record<string, string> }[]> {
  const file = join(statePaths.data('notifier'), 'notifications.jsonl');
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map(
      (line) =>
        JSON.parse(line) as {
          time: string;
          status: string;
          receiver: string;
          alertname: string;
          labels: Record<string, string>;
        },
    )
    .filter((line) => Date.parse(line.time) >= since);
}

interface AlertmanagerAlert {
  labels: Record<string, string>;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[] };
}

async function alertmanagerAlerts(alertname: string): Promise<AlertmanagerAlert[]> {
  const filter = encodeURIComponent(`alertname="${alertname}"`);
  const response = await fetch(`http://${LOOPBACK}:${ports.alertmanager}/api/v2/alerts?filter=${filter}`);
  return (await response.json()) as AlertmanagerAlert[];
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
      ...QUICK_EXPORT,
      LOADGEN_RATE: '10',
      FAULT_INJECTION: 'enabled',
      // Two Watchdog notifications missed (Alertmanager re-sends it every 30 s or so), so that
      // the test of a stopped Prometheus waits a minute rather than two.
      NOTIFIER_WATCHDOG_TIMEOUT_SECONDS: '75',
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
      .filter(
        ([name]) =>
          !existing.has(name) &&
          !failureOnlySeries.has(name) &&
          !tailSamplingSeries.has(name) &&
          !clusterOnlySeries.has(name),
      )
      .map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(
      missing,
      [],
      'names used but not in Prometheus: a rename, or a series that is never produced',
    );
  });

  it('nothing fires under normal load but the Watchdog, which reaches the notifier', async () => {
    await eventually('the Watchdog at the notifier', async () =>
      (await notifierBoard()).watchdog.status === 'ok' ? true : undefined,
    );
    const alerts = await query('ALERTS{alertstate="firing", alertname!="Watchdog"}');
    assert.deepEqual(
      alerts.map((sample) => `${sample.metric.alertname} ${JSON.stringify(sample.metric)}`),
      [],
    );
  });

  it('series by pipeline and by bot follow the pipelines and bots that exist, not all that ever did', async () => {
    const api = `http://${LOOPBACK}:${ports.api}`;
    const list = async (path: string) =>
      ((await (await fetch(`${api}${path}?limit=500`)).json()) as { items: { id: string }[] }).items.map(
        (item) => item.id,
      );
    /** Ids with a sample in the last 20 s (services export every 2 s here): what is exported now. */
    const exportedIds = async (metric: string, label: string) =>
      (await query(`count by (${label}) (last_over_time(${metric}[20s]))`)).map(
        (sample) => sample.metric[label] ?? '',
      );
    // Churn, as months of users would make it: pipelines and bots deleted.
    const deletedPipelines = (await list('/pipelines')).slice(0, 3);
    const deletedBots = (await list('/bots')).slice(0, 2);
    assert.equal(deletedPipelines.length, 3, 'the load generator has created pipelines');
    for (const id of deletedPipelines) await fetch(`${api}/pipelines/${id}`, { method: 'DELETE' });
    for (const id of deletedBots) await fetch(`${api}/bots/${id}`, { method: 'DELETE' });
    await sleep(30_000);
    const [pipelines, bots] = [new Set(await list('/pipelines')), new Set(await list('/bots'))];
    // The load generator keeps creating and deleting meanwhile: ids that came or went within the
    // 20 s window may be on either side, hence the margin.
    const margin = 3;
    for (const [metric, label, existing, deleted] of [
      ['pipeline_executions_total', 'pipeline_id', pipelines, deletedPipelines],
      ['trading_bot_trades_total', 'bot_id', bots, deletedBots],
      ['trading_bot_pnl_usd', 'bot_id', bots, deletedBots],
    ] as const) {
      const exported = await exportedIds(metric, label);
      assert.deepEqual(
        exported.filter((id) => deleted.includes(id)),
        [],
        `${metric}: no series of a deleted ${label}`,
      );
      const unknown = exported.filter((id) => !existing.has(id));
      assert.ok(
        unknown.length <= margin,
        `${metric}: ${unknown.length} exported ${label}s that do not exist (${unknown.join(', ')}), ${existing.size} exist`,
      );
    }
    // And the duration histogram has no pipeline id unless WORKER_DURATION_BY_PIPELINE asks for it.
    assert.deepEqual(await query('count(pipeline_execution_duration_seconds_bucket{pipeline_id!=""})'), []);
  });

  it('a stopped service fires ServiceDown and resolves; injected errors page through the SLO, HighErrorRate inhibited', async () => {
    await Promise.all([
      firesAndResolves('ServiceDown', 'worker', {
        start: () => stopStack(undefined, ['worker']),
        end: async () => {
          await startStack(undefined, ['worker']);
        },
      }),
      (async () => {
        await setErrorRate(0.5);
        try {
          await eventually(
            'ApiAvailabilityErrorBudgetBurn{job="api"} paged',
            async () =>
              (await notified()).some(
                (alert) =>
                  alert.alertname === 'ApiAvailabilityErrorBudgetBurn' &&
                  alert.labels.severity === 'critical' &&
                  alert.receiver === 'page',
              )
                ? true
                : undefined,
            { timeoutMs: 6 * 60_000, intervalMs: 5_000 },
          );
          // The ratio alert fires too, and Alertmanager holds it back behind the SLO's page.
          await eventually(
            'HighErrorRate{job="api"} firing, and inhibited by the SLO page',
            async () => {
              const api = (await alertmanagerAlerts('HighErrorRate')).filter(
                (alert) => alert.labels.job === 'api',
              );
              return api.length > 0 && api.every((alert) => alert.status.inhibitedBy.length > 0)
                ? true
                : undefined;
            },
            { timeoutMs: 3 * 60_000, intervalMs: 5_000 },
          );
        } finally {
          await setErrorRate(0);
        }
        // The ratio resolves within minutes; the budget alert rightly stays: minutes of 50%
        // errors are hours of the budget's 30 days, and its 30-minute window holds them.
        await eventually(
          'HighErrorRate{job="api"} resolved',
          async () => (!(await firing('HighErrorRate', 'api')) ? true : undefined),
          { timeoutMs: 5 * 60_000, intervalMs: 5_000 },
        );
      })(),
    ]);
  });

  it('the collector down pages once: TelemetryComponentDown, with every ServiceDown inhibited', async () => {
    const since = Date.now();
    // What ServiceDown compares with: the records of infra/prometheus/rules/services.yml.
    const expectedServices = (await query('platform:service_expected:info')).map(
      (sample) => sample.metric.job ?? '',
    );
    assert.ok(expectedServices.length > 0, 'the expected services are recorded');
    await stopStack(undefined, ['collector']);
    try {
      // Two minutes of silence make every service's ServiceDown fire in Prometheus.
      await eventually(
        'ServiceDown firing for every service, each inhibited in Alertmanager',
        async () => {
          const alerts = (await alertmanagerAlerts('ServiceDown')).filter((alert) =>
            expectedServices.includes(alert.labels.job ?? ''),
          );
          if (alerts.length < expectedServices.length) return undefined;
          return alerts.every(
            (alert) => alert.status.state === 'suppressed' && alert.status.inhibitedBy.length > 0,
          )
            ? alerts
            : undefined;
        },
        { timeoutMs: 5 * 60_000, intervalMs: 5_000 },
      );
      const [source] = (await alertmanagerAlerts('TelemetryComponentDown')).filter(
        (alert) => alert.labels.job === 'otel-collector',
      );
      assert.equal(source?.status.state, 'active', 'the collector alert itself is not inhibited');
    } finally {
      await startStack(undefined, ['collector']);
    }
    await eventually(
      'ServiceDown resolved in Prometheus once the services report again',
      async () =>
        (await query('ALERTS{alertname="ServiceDown", alertstate="firing"}')).length === 0 ? true : undefined,
      { timeoutMs: 3 * 60_000, intervalMs: 5_000 },
    );
    // Alertmanager's next group interval, when an un-inhibited ServiceDown would have gone out.
    await sleep(70_000);
    const pages = (await notificationsSince(since)).filter(
      (line) => line.status === 'firing' && line.receiver === 'page',
    );
    assert.deepEqual(
      pages.map((line) => `${line.alertname} ${line.labels.job ?? ''}`),
      ['TelemetryComponentDown otel-collector'],
      'one page for the collector, none for the services it silenced',
    );
  });

  it('the Watchdog goes missing in `status` when Prometheus stops, and comes back', async () => {
    await eventually('the Watchdog at the notifier', async () =>
      (await notifierBoard()).watchdog.status === 'ok' ? true : undefined,
    );
    await stopStack(undefined, ['prometheus']);
    try {
      await eventually(
        'the notifier reporting the Watchdog missing',
        async () => ((await notifierBoard()).watchdog.status === 'missing' ? true : undefined),
        { timeoutMs: 4 * 60_000, intervalMs: 5_000 },
      );
      // `status` exits 1 with Prometheus down; what it printed is on the error.
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [sourceCondition, join(repoRoot, 'infra/runner/cli.ts'), 'status'],
        { env: process.env },
      ).catch((error: unknown) => ({ stdout: (error as { stdout?: string }).stdout ?? '' }));
      assert.match(stdout, /Watchdog: MISSING/);
    } finally {
      await startStack(undefined, ['prometheus']);
    }
    await eventually(
      'the Watchdog back at the notifier',
      async () => ((await notifierBoard()).watchdog.status === 'ok' ? true : undefined),
      { timeoutMs: 3 * 60_000, intervalMs: 5_000 },
    );
  });
});
