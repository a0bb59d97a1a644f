/**
 * Logs freshness: how long after a request its log records can be queried in VictoriaLogs by
 * trace id, through the whole local pipeline (the SDK's batch log record processor → OTLP/gRPC →
 * collector → file-backed queue → OTLP/HTTP → VictoriaLogs), with the stack's own export settings.
 *   node --conditions=@tradeobs/source bench/logs/freshness.ts [--samples 40]
 * Each sample is a manual execution (POST /pipelines/:id/executions): the api logs "execution
 * requested" in the request's trace, the worker "execution finished" in the same trace. Both
 * are polled for with `trace_id:=<id>`; on the way, the moments the collector's accepted count
 * and its exporter's sent count first move tell which hop the time goes to. (VictoriaLogs'
 * vl_rows_ingested_total is no clock for this: in a trial of 6 samples it moved from 0 to 900 ms
 * after the export was answered, and once before.) Nothing else
 * runs (no load generator, no signals), so those counters move only for our records. Requests
 * start at random moments, as real ones do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { infrastructure } from '../../infra/runner/components.ts';
import { fetchTraceLogs } from '../../infra/runner/logs.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { median, percentile, replaceSection } from '../report.ts';
import { collectorCounter, logsExporter } from './common.ts';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '40' } } });
const samples = Number(values.samples);
/**
 * The stack leaves OTEL_BLRP_SCHEDULE_DELAY to the library (serviceEnvironment in
 * infra/runner/components.ts sets only OTEL_BSP_SCHEDULE_DELAY), whose default is the
 * specification's 1000 ms; a value in this process's environment reaches the services.
 */
const blrpDelayMillis = Number(process.env.OTEL_BLRP_SCHEDULE_DELAY ?? 1_000);
const pollMillis = 50;
const giveUpMillis = 30_000;
/** Pipelines taken in turn, so that the previous execution of one has long finished. */
const pipelineCount = 4;
const api = `http://${LOOPBACK}:${ports.api}`;

/** Milliseconds from `since` until `ready` first answers true, polling every few tens of ms. */
async function timeUntil(since: number, ready: () => Promise<boolean>): Promise<number> {
  while (Date.now() - since < giveUpMillis) {
    if (await ready().catch(() => false)) return Date.now() - since;
    await sleep(pollMillis);
  }
  throw new Error(`not seen within ${giveUpMillis / 1000} s`);
}

interface Sample {
  /** The collector accepted a log record (its receiver's count moved). */
  accepted: number;
  /** The collector's exporter had a batch answered by VictoriaLogs (its sent count moved). */
  sent: number;
  /** The api's record is found by trace id. */
  requested: number;
  /** The worker's record is found by trace id too. */
  finished: number;
}

async function sample(pipelineId: string): Promise<Sample> {
  const acceptedBefore = await collectorCounter('otelcol_receiver_accepted_log_records');
  const sentBefore = await collectorCounter('otelcol_exporter_sent_log_records', logsExporter);
  const sentAt = Date.now();
  const response = await fetch(`${api}/pipelines/${pipelineId}/executions`, { method: 'POST' });
  await response.body?.cancel();
  if (response.status !== 202)
    throw new Error(`POST /pipelines/${pipelineId}/executions: ${response.status}`);
  const traceId = response.headers.get('traceresponse')?.split('-')[1];
  if (!traceId) throw new Error('the api answered without a traceresponse header');
  const messages = async () => new Set((await fetchTraceLogs(traceId)).map((record) => record._msg));
  const [accepted, sent, requested, finished] = await Promise.all([
    timeUntil(
      sentAt,
      async () => (await collectorCounter('otelcol_receiver_accepted_log_records')) > acceptedBefore,
    ),
    timeUntil(
      sentAt,
      async () => (await collectorCounter('otelcol_exporter_sent_log_records', logsExporter)) > sentBefore,
    ),
    timeUntil(sentAt, async () => (await messages()).has('execution requested')),
    timeUntil(sentAt, async () => (await messages()).has('execution finished')),
  ]);
  return { accepted, sent, requested, finished };
}

const stateDir = await mkdtemp(join(tmpdir(), 'bench-logs-freshness-'));
process.env.STACK_STATE_DIR = stateDir;
const results: Sample[] = [];
try {
  await startStack(undefined, [...infrastructure, 'api', 'worker']);
  if (!(await stackStatus()).every((s) => !['api', 'worker'].includes(s.name) || s.healthy))
    throw new Error('the api or the worker is not healthy');
  const pipelines: string[] = [];
  for (let i = 0; i < pipelineCount; i += 1) {
    const created = await fetch(`${api}/pipelines`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `logs-freshness-${i}`, strategy: 'momentum', symbols: ['BTCUSD'] }),
    });
    if (created.status !== 201) throw new Error(`POST /pipelines: ${created.status} ${await created.text()}`);
    pipelines.push(((await created.json()) as { id: string }).id);
  }
  // The first export of each service opens its connection: not what a request waits for.
  await sample(pipelines[0] as string);
  for (let i = 0; i < samples; i += 1) {
    // Anywhere in the processor's schedule, and past the previous sample's records.
    await sleep(Math.random() * 2 * blrpDelayMillis);
    const result = await sample(pipelines[i % pipelineCount] as string);
    results.push(result);
    process.stderr.write(`sample ${i + 1}/${samples}: ${JSON.stringify(result)}\n`);
  }
} finally {
  await stopStack();
  await rm(stateDir, { recursive: true, force: true });
}

const seconds = (millis: number) => `${(millis / 1000).toFixed(2)} s`;
const row = (what: string, millis: number[], target: string) =>
  `| ${what} | ${seconds(percentile(millis, 50))} | ${seconds(percentile(millis, 95))} | ${seconds(Math.max(...millis))} | ${target} |`;
const of = (key: keyof Sample) => results.map((r) => r[key]);
const hop = (from: keyof Sample, to: keyof Sample) => results.map((r) => r[to] - r[from]);
const hopRow = (what: string, millis: number[]) =>
  `| ${what} | ${seconds(median(millis))} | ${seconds(percentile(millis, 95))} |`;
const p95 = percentile(of('requested'), 95);

replaceSection(
  '## Logs: freshness',
  `## Logs: freshness

Time from a request to the api (\`POST /pipelines/:id/executions\`, a manual execution) until its log record is
queryable in VictoriaLogs by trace id (\`trace_id:=<id>\`, polled every ${pollMillis} ms), the api's "execution requested" and the
worker's "execution finished" of the same trace; ${samples} requests at random moments, nothing else running but the
telemetry pipeline, NATS, the api and the worker. The stack's settings: records batched for at most
${blrpDelayMillis / 1000} s (\`OTEL_BLRP_SCHEDULE_DELAY\`, which the stack leaves at the default), the collector's batch timeout 200 ms,
then its file-backed sending queue.

Reproduce: \`flock /tmp/stack.lock node --conditions=@tradeobs/source bench/logs/freshness.ts --samples ${samples}\` (its own state
directory; the stack's ports must be free)

| from the request until | p50 | p95 | slowest | target (p95) |
|---|---:|---:|---:|---|
${row("the api's record is queryable", of('requested'), `under 3 s: ${p95 < 3000 ? 'met' : 'missed'}`)}
${row("the worker's record is queryable", of('finished'), '—')}
${row('the collector accepted a record', of('accepted'), '—')}
${row('VictoriaLogs answered the export', of('sent'), '—')}

Where the time goes, per hop (medians and p95 of the differences, sample by sample; the collector's counters move for
the first record of the trace to arrive, which is the api's):

| hop | median | p95 |
|---|---:|---:|
${hopRow('request → collector (the SDK batch delay, then one OTLP/gRPC export)', of('accepted'))}
${hopRow('collector → VictoriaLogs answered (batch processor, file-backed queue, OTLP/HTTP)', hop('accepted', 'sent'))}
${hopRow("answered → the api's record queryable (VictoriaLogs)", hop('sent', 'requested'))}
`,
);
