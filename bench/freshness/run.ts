/**
 * Freshness: how long after a request its metric can be queried in Prometheus and its trace
 * found in Jaeger, through the whole local pipeline (SDK export → collector → remote write /
 * OTLP → storage), with the stack's own export settings.
 *   node bench/freshness/run.ts [--samples 40]
 * The api serves nothing else meanwhile (no load generator), so the request counter of the
 * route moves only for our requests. Requests start at random moments of the export interval,
 * as real ones do.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { infrastructure } from '../../infra/runner/components.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { fetchTrace } from '../../infra/runner/trace.ts';
import { query } from '../../tests/support/prometheus.ts';
import { percentile, replaceSection } from '../report.ts';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '40' } } });
const samples = Number(values.samples);
const exportIntervalMillis = 10_000;
const bspDelayMillis = 1_000;
const pollMillis = 50;
const giveUpMillis = 60_000;
const requestCount =
  'sum(http_server_request_duration_seconds_count{job="api", http_route="/portfolio", http_request_method="GET"})';

async function requestsCounted(): Promise<number> {
  const [sample] = await query(requestCount);
  return Number(sample?.value[1] ?? 0);
}

/** Milliseconds from `since` until `ready` first answers true, polling every few tens of ms. */
async function timeUntil(since: number, ready: () => Promise<boolean>): Promise<number> {
  while (Date.now() - since < giveUpMillis) {
    if (await ready().catch(() => false)) return Date.now() - since;
    await sleep(pollMillis);
  }
  throw new Error(`not seen within ${giveUpMillis / 1000} s`);
}

await stopStack();
process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'bench-freshness-'));
Object.assign(process.env, {
  OTEL_METRIC_EXPORT_INTERVAL: String(exportIntervalMillis),
  OTEL_BSP_SCHEDULE_DELAY: String(bspDelayMillis),
});
await startStack(undefined, [...infrastructure, 'api']);
if (!(await stackStatus()).every((s) => s.name !== 'api' || s.healthy))
  throw new Error('the api is not healthy');

const api = `http://${LOOPBACK}:${ports.api}`;
// The route's series must exist before the first measured request.
await (await fetch(`${api}/portfolio`)).body?.cancel();
await timeUntil(Date.now(), async () => (await requestsCounted()) >= 1);

const metricMillis: number[] = [];
const traceMillis: number[] = [];
for (let i = 0; i < samples; i += 1) {
  await sleep(Math.random() * exportIntervalMillis);
  const before = await requestsCounted();
  const sentAt = Date.now();
  const response = await fetch(`${api}/portfolio`);
  await response.body?.cancel();
  const traceId = response.headers.get('traceresponse')?.split('-')[1];
  if (!traceId) throw new Error('the api answered without a traceresponse header');
  const [metric, trace] = await Promise.all([
    timeUntil(sentAt, async () => (await requestsCounted()) > before),
    timeUntil(sentAt, async () => (await fetchTrace(traceId)) !== undefined),
  ]);
  metricMillis.push(metric);
  traceMillis.push(trace);
  process.stderr.write(`sample ${i + 1}/${samples}: metric ${metric} ms, trace ${trace} ms\n`);
}
await stopStack();

const row = (what: string, millis: number[], target: string) =>
  `| ${what} | ${(percentile(millis, 50) / 1000).toFixed(2)} s | ${(percentile(millis, 95) / 1000).toFixed(2)} s | ` +
  `${(Math.max(...millis) / 1000).toFixed(2)} s | ${target} |`;

replaceSection(
  '## Freshness',
  `## Freshness

Time from a request to the api until its metric is queryable in Prometheus (the route's request count moves) and its
trace is found in Jaeger, polled every ${pollMillis} ms; ${samples} requests at random moments of the export interval, with the
stack's settings: metrics exported every ${exportIntervalMillis / 1000} s (\`OTEL_METRIC_EXPORT_INTERVAL\`), spans batched for at most
${bspDelayMillis / 1000} s (\`OTEL_BSP_SCHEDULE_DELAY\`), the collector's batch timeout 200 ms, remote write without buffering.

Reproduce: \`node bench/freshness/run.ts --samples ${samples}\` (stops a running stack first)

| signal | p50 | p95 | slowest | target (p95) |
|---|---:|---:|---:|---|
${row('metric in Prometheus', metricMillis, `under ${exportIntervalMillis / 1000 + 2} s (export interval + 2 s)`)}
${row('trace in Jaeger', traceMillis, 'under 3 s')}

A metric waits for the next export of its service, so its freshness is spread evenly over the export interval; lowering
\`OTEL_METRIC_EXPORT_INTERVAL\` lowers it one for one, at the cost of more requests and samples.
`,
);
