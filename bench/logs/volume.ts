/**
 * The platform's log volume: records and bytes per second that the platform's services produce
 * on the whole local stack under the default demo (load generator at LOADGEN_RATE, 5 scenarios a
 * second unless set), the figure docs/migration.md turns into volumes per backend.
 *   node --conditions=@tradeobs/source bench/logs/volume.ts [--warmup 60] [--seconds 120]
 * Over one window after a warm-up: records the collector accepted and sent to VictoriaLogs,
 * the OTLP bytes it sent (uncompressed protobuf, as the exporter counts them), what VictoriaLogs
 * counts as ingested and stores (uncompressed and compressed), the JSON lines the services wrote
 * on standard output (their log files' growth), and the records per service by LogsQL.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ComponentName } from '../../infra/runner/components.ts';
import { queryLogs } from '../../infra/runner/logs.ts';
import { statePaths } from '../../infra/runner/paths.ts';
import { readSettings } from '../../infra/runner/settings.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { replaceSection } from '../report.ts';
import { collectorCounter, logsExporter, victoriaLogsCounter } from './common.ts';

const { values } = parseArgs({
  options: {
    warmup: { type: 'string', default: '60' },
    seconds: { type: 'string', default: '120' },
  },
});
const warmupSeconds = Number(values.warmup);
const seconds = Number(values.seconds);
const services: ComponentName[] = [
  'api',
  'worker',
  'signal-generator',
  'trigger-dispatcher',
  'loadgen',
  'notifier',
];
/** 30 days: what a monthly bill counts. */
const secondsPerMonth = 30 * 24 * 3600;

interface Reading {
  accepted: number;
  sent: number;
  otlpBytes: number;
  vlRows: number;
  vlBytes: number;
  uncompressed: number;
  compressed: number;
  lineBytes: Record<string, number>;
}

/** Bytes of each service's log file: its JSON lines on standard output (and anything on stderr). */
async function logFileSizes(): Promise<Record<string, number>> {
  const files = await readdir(statePaths.logs());
  const sizes: Record<string, number> = {};
  for (const service of services) {
    if (files.includes(`${service}.log`))
      sizes[service] = (await stat(join(statePaths.logs(), `${service}.log`))).size;
  }
  return sizes;
}

async function read(): Promise<Reading> {
  return {
    accepted: await collectorCounter('otelcol_receiver_accepted_log_records'),
    sent: await collectorCounter('otelcol_exporter_sent_log_records', logsExporter),
    otlpBytes: await collectorCounter('otelcol_exporter_queue_batch_send_size_bytes_sum', logsExporter),
    vlRows: await victoriaLogsCounter('vl_rows_ingested_total', 'type="opentelemetry_protobuf"'),
    vlBytes: await victoriaLogsCounter('vl_bytes_ingested_total', 'type="opentelemetry_protobuf"'),
    uncompressed: await victoriaLogsCounter('vl_uncompressed_data_size_bytes'),
    compressed: await victoriaLogsCounter('vl_compressed_data_size_bytes'),
    lineBytes: await logFileSizes(),
  };
}

const settings = readSettings();
const stateDir = await mkdtemp(join(tmpdir(), 'bench-logs-volume-'));
process.env.STACK_STATE_DIR = stateDir;
let before: Reading;
let after: Reading;
let from: Date;
let to: Date;
let byService: { service: string; records: number }[];
try {
  await startStack(settings);
  await sleep(warmupSeconds * 1000);
  from = new Date();
  before = await read();
  await sleep(seconds * 1000);
  to = new Date();
  after = await read();
  // What the window's records became once VictoriaLogs makes them searchable (about a second).
  await sleep(3_000);
  byService = (
    await queryLogs(
      `_time:[${from.toISOString()}, ${to.toISOString()}) | stats by (service.name) count() records`,
      100,
    )
  )
    .map((row) => ({ service: row['service.name'] ?? 'unknown', records: Number(row.records ?? 0) }))
    .sort((a, b) => b.records - a.records);
} finally {
  await stopStack();
}
const totals = { ...after };
await rm(stateDir, { recursive: true, force: true });

const perSecond = (key: Exclude<keyof Reading, 'lineBytes'>) => (after[key] - before[key]) / seconds;
const lineBytesPerSecond =
  services.reduce((sum, s) => sum + (after.lineBytes[s] ?? 0) - (before.lineBytes[s] ?? 0), 0) / seconds;
const records = perSecond('accepted');
const gbPerMonth = (bytesPerSecond: number) => ((bytesPerSecond * secondsPerMonth) / 1e9).toFixed(1);
const kb = (bytesPerSecond: number) => `${(bytesPerSecond / 1000).toFixed(1)} kB/s`;
const perRecord = (bytesPerSecond: number) => (records > 0 ? (bytesPerSecond / records).toFixed(0) : '—');
const result = {
  records,
  sent: perSecond('sent'),
  vlRows: perSecond('vlRows'),
  otlpBytes: perSecond('otlpBytes'),
  vlBytes: perSecond('vlBytes'),
  lineBytes: lineBytesPerSecond,
  compressionRatio: totals.uncompressed / Math.max(1, totals.compressed),
  byService,
};
process.stderr.write(`${JSON.stringify(result)}\n`);
const compressedPerSecond = result.vlBytes / result.compressionRatio;

replaceSection(
  "## Logs: the platform's volume",
  `## Logs: the platform's volume

The whole local stack under the default demo (load generator at ${settings.loadgenRate} scenarios a second, the signal pipeline
running), ${seconds} s after a ${warmupSeconds} s warm-up: the log records the platform's services produce, and their size on each way
out. A month is 30 days. These are the figures behind docs/migration.md's logs lines.

Reproduce: \`flock /tmp/stack.lock node --conditions=@tradeobs/source bench/logs/volume.ts --warmup ${warmupSeconds} --seconds ${seconds}\`
(its own state directory; the stack's ports must be free)

| measure | per second | per record | per month | how |
|---|---:|---:|---:|---|
| log records accepted by the collector | ${records.toFixed(1)} | — | ${((records * secondsPerMonth) / 1e6).toFixed(1)} million | \`otelcol_receiver_accepted_log_records\` |
| log records sent to VictoriaLogs | ${result.sent.toFixed(1)} | — | — | \`otelcol_exporter_sent_log_records\` |
| rows ingested by VictoriaLogs | ${result.vlRows.toFixed(1)} | — | — | \`vl_rows_ingested_total\` |
| OTLP bytes to the logs backend (protobuf, uncompressed) | ${kb(result.otlpBytes)} | ${perRecord(result.otlpBytes)} B | ${gbPerMonth(result.otlpBytes)} GB | \`otelcol_exporter_queue_batch_send_size_bytes_sum\` |
| bytes VictoriaLogs ingested (its uncompressed form: every field as text) | ${kb(result.vlBytes)} | ${perRecord(result.vlBytes)} B | ${gbPerMonth(result.vlBytes)} GB | \`vl_bytes_ingested_total\` |
| JSON lines on standard output | ${kb(result.lineBytes)} | ${perRecord(result.lineBytes)} B | ${gbPerMonth(result.lineBytes)} GB | the services' log files' growth |
| on VictoriaLogs' disk (compressed ${result.compressionRatio.toFixed(1)}×, \`vl_uncompressed_data_size_bytes\` ÷ \`vl_compressed_data_size_bytes\`) | ${kb(compressedPerSecond)} | ${perRecord(compressedPerSecond)} B | ${gbPerMonth(compressedPerSecond)} GB | |

Records per service in the window (LogsQL \`stats by (service.name) count()\`):
${byService.map((row) => `${row.service} ${(row.records / seconds).toFixed(1)}/s`).join(', ')}.
`,
);
