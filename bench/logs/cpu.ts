/**
 * CPU per log record in the service: libs/telemetry's logger writing the JSON line alone, the
 * OTLP record alone, and both (the default), side by side in one run:
 *   node --conditions=@tradeobs/source bench/logs/cpu.ts [--rounds 5] [--seconds 8] [--rate 5000]
 * Each round runs every variant once, in a rotating order, each in a fresh process pinned to
 * CPU 0 (cpu-variant.ts) that logs `--rate` calls a second inside a sampled span; its standard
 * output goes to a file, as the stack's services' does, and its records to the real local
 * collector (→ VictoriaLogs), whose processes share both CPUs. The cost of a call is the
 * variant's CPU time over that of `idle` (the same process and loop without the call) in the
 * same round, per call; medians over the rounds, in docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { infrastructure } from '../../infra/runner/components.ts';
import { repoRoot, sourceCondition } from '../../infra/runner/paths.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { median, replaceSection, rotation } from '../report.ts';
import { collectorCounter } from './common.ts';
import { type Variant, type VariantResult, variants } from './variants.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '8' },
    rate: { type: 'string', default: '5000' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const rate = Number(values.rate);

/** What each variant sets on top of the shared environment. */
const variantEnv: Record<Variant, Record<string, string>> = {
  idle: {},
  line: { OTEL_LOGS_EXPORTER: 'none' },
  record: { TELEMETRY_LOG_STDOUT: 'false' },
  both: {},
};
const sharedEnv = {
  // Only logs differ between the variants: no spans or metrics leave any of them.
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${ports.collectorOtlpGrpc}`,
  LOG_LEVEL: 'info',
};

interface Sample extends VariantResult {
  /** Bytes the process wrote on standard output per call. */
  lineBytes: number;
  /** Records the process made that the collector did not accept. */
  lost: number;
}

async function measure(variant: Variant, dir: string, round: number): Promise<Sample> {
  const resultFile = join(dir, `${variant}-${round}.json`);
  const stdoutFile = join(dir, `${variant}-${round}.log`);
  const acceptedBefore = await collectorCounter('otelcol_receiver_accepted_log_records');
  const stdout = await open(stdoutFile, 'w');
  try {
    const child = spawn(
      'taskset',
      [
        '-c',
        '0',
        process.execPath,
        sourceCondition,
        join(repoRoot, 'bench/logs/cpu-variant.ts'),
        '--variant',
        variant,
        '--rate',
        String(rate),
        '--seconds',
        String(seconds),
        '--result',
        resultFile,
      ],
      {
        env: { ...process.env, ...sharedEnv, ...variantEnv[variant] },
        stdio: ['ignore', stdout.fd, 'inherit'],
      },
    );
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`${variant}: the process exited with ${code}`);
  } finally {
    await stdout.close();
  }
  const result = JSON.parse(await readFile(resultFile, 'utf8')) as VariantResult;
  const accepted = (await collectorCounter('otelcol_receiver_accepted_log_records')) - acceptedBefore;
  const sendsRecords = variant === 'record' || variant === 'both';
  return {
    ...result,
    lineBytes: (await stat(stdoutFile)).size / Math.max(1, result.totalCalls),
    lost: sendsRecords ? Math.max(0, result.totalCalls - accepted) + result.droppedRecords : 0,
  };
}

const stateDir = await mkdtemp(join(tmpdir(), 'bench-logs-cpu-'));
const outputDir = await mkdtemp(join(tmpdir(), 'bench-logs-cpu-out-'));
process.env.STACK_STATE_DIR = stateDir;
const samples = new Map<Variant, Sample[]>(variants.map((v) => [v, []]));
try {
  await startStack(undefined, infrastructure);
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of rotation(variants, round)) {
      const sample = await measure(variant, outputDir, round);
      samples.get(variant)?.push(sample);
      process.stderr.write(
        `round ${round + 1}/${rounds} ${variant.padEnd(6)} ${sample.calls} calls, ` +
          `${(sample.cpuMicros / 1000).toFixed(0)} ms CPU, ${sample.lineBytes.toFixed(0)} B/line, ${sample.lost} lost\n`,
      );
    }
  }
} finally {
  await stopStack();
  await rm(stateDir, { recursive: true, force: true });
  await rm(outputDir, { recursive: true, force: true });
}

/** µs of CPU a call adds over `idle`, round by round: both samples of a round share the machine's drift. */
function perCallByRound(variant: Variant): number[] {
  const ours = samples.get(variant) ?? [];
  const idle = samples.get('idle') ?? [];
  return ours.map((s, round) => (s.cpuMicros - (idle[round]?.cpuMicros ?? Number.NaN)) / s.calls);
}
const perCall = (variant: Variant) => median(perCallByRound(variant));
const spread = (variant: Variant) => {
  const values = perCallByRound(variant);
  return `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)} µs`;
};
const names: Record<Variant, string> = {
  idle: 'no call (the loop and providers alone)',
  line: 'JSON line only (`OTEL_LOGS_EXPORTER=none`)',
  record: 'OTLP record only (`TELEMETRY_LOG_STDOUT=false`)',
  both: 'line and record (the default)',
};
const rows = variants.map((variant) => {
  const list = samples.get(variant) ?? [];
  return {
    variant,
    cpuPerSecond: median(list.map((s) => s.cpuMicros / s.seconds)) / 1000,
    perCall: variant === 'idle' ? Number.NaN : perCall(variant),
    lineBytes: median(list.map((s) => s.lineBytes)),
    lost: list.reduce((sum, s) => sum + s.lost, 0),
  };
});
const micros = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)} µs` : '—');
const table = [
  '| variant | CPU ms per second (median) | CPU per call over no call (median) | over the rounds | stdout bytes per call | records lost |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${names[r.variant]} | ${r.cpuPerSecond.toFixed(1)} | ${micros(r.perCall)} | ${r.variant === 'idle' ? '—' : spread(r.variant)} | ${r.variant === 'idle' ? '—' : r.lineBytes.toFixed(0)} | ${r.variant === 'record' || r.variant === 'both' ? r.lost : '—'} |`,
  ),
].join('\n');
const line = perCall('line');
const record = perCall('record');
const both = perCall('both');
const ratios = [
  '| comparison | ratio |',
  '|---|---:|',
  `| OTLP record only ÷ JSON line only | ${(record / line).toFixed(2)}× |`,
  `| line and record ÷ JSON line only (what turning the export on costs a service that logs lines today) | ${(both / line).toFixed(2)}× |`,
  `| line and record ÷ (line alone + record alone): 1.00× when the two costs simply add | ${(both / (line + record)).toFixed(2)}× |`,
].join('\n');

replaceSection(
  '## Logs: CPU per record in the service',
  `## Logs: CPU per record in the service

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node}; ${rounds} rounds, variants alternating
in rotating order, each a fresh process pinned to CPU 0 that calls \`telemetry.logger.info('execution requested',
{ executionId, pipelineId, triggerMode })\` ${rate} times a second (bursts every 10 ms) inside a sampled span for ${seconds} s after a
2 s warm-up, spans and metrics off. Standard output goes to a file, as the stack's services' does; records go over
OTLP/gRPC (batch log record processor, 1 s delay, batches of 512) to the real local collector and VictoriaLogs, which
share both CPUs. CPU is the process's own (every thread) over the calls and the flush of the last batch; the cost of a
call is its variant's CPU over the idle variant's in the same round, divided by the calls, the median over the rounds.

Reproduce: \`flock /tmp/stack.lock node --conditions=@tradeobs/source bench/logs/cpu.ts --rounds ${rounds} --seconds ${seconds} --rate ${rate}\`
(its own state directory; the stack's ports must be free)

${table}

Records lost: made by the process and not accepted by the collector, over all rounds (the collector counts the warm-up's
too).

${ratios}
`,
);
