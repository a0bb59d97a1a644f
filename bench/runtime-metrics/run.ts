/**
 * Runtime metrics: libs/telemetry's own (src/runtime.ts) against
 * @opentelemetry/instrumentation-runtime-node, each registered on the same kind of MeterProvider
 * (one reader, cumulative, nothing else on it), side by side in one run:
 *   node bench/runtime-metrics/run.ts [--rounds 5] [--idle 10] [--collections 100]
 * Each round runs every variant once, in a rotating order, each in a fresh process pinned to
 * CPU 0 (variant.ts): idle CPU and wakeups with nothing collected, CPU per collection and per
 * OTLP encoding of it, and the series one process exports. `none` is the provider alone, what
 * the others' idle figures are measured against. Medians over the rounds, in docs/benchmarks.md.
 */
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { repoRoot } from '../../infra/runner/paths.ts';
import { median, replaceSection, rotation } from '../report.ts';
import { type Variant, type VariantResult, variants } from './variant.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    idle: { type: 'string', default: '10' },
    collections: { type: 'string', default: '100' },
  },
});
const rounds = Number(values.rounds);
const execFileAsync = promisify(execFile);

async function measure(variant: Variant): Promise<VariantResult> {
  const { stdout } = await execFileAsync('taskset', [
    '-c',
    '0',
    process.execPath,
    '--expose-gc',
    join(repoRoot, 'bench/runtime-metrics/variant.ts'),
    '--variant',
    variant,
    '--idle',
    values.idle,
    '--collections',
    values.collections,
  ]);
  return JSON.parse(stdout) as VariantResult;
}

const results = new Map<Variant, VariantResult[]>(variants.map((variant) => [variant, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const variant of rotation(variants, round)) {
    const result = await measure(variant);
    results.get(variant)?.push(result);
    process.stderr.write(
      `round ${round + 1}/${rounds} ${variant}: collect ${result.collectMicros.toFixed(0)} µs, ` +
        `encode ${result.encodeMicros.toFixed(0)} µs, idle ${result.idleCpuMicrosPerSecond.toFixed(0)} µs/s, ` +
        `${result.idleWakeupsPerSecond.toFixed(1)} wakeups/s, ${result.prometheusSeries} series\n`,
    );
  }
}

const of = (variant: Variant, key: Exclude<keyof VariantResult, 'variant'>) =>
  median((results.get(variant) ?? []).map((result) => result[key]));
const idleCpu = (variant: Variant) =>
  of(variant, 'idleCpuMicrosPerSecond') - of('none', 'idleCpuMicrosPerSecond');
const wakeups = (variant: Variant) =>
  of(variant, 'idleWakeupsPerSecond') - of('none', 'idleWakeupsPerSecond');

const names: Record<Variant, string> = {
  none: 'MeterProvider alone',
  ours: 'libs/telemetry (src/runtime.ts)',
  'instrumentation-runtime-node': '@opentelemetry/instrumentation-runtime-node, defaults (10 ms)',
  'instrumentation-runtime-node-20ms': '@opentelemetry/instrumentation-runtime-node, monitoringPrecision 20',
};
const rows = variants.map((variant) =>
  [
    names[variant],
    of(variant, 'collectMicros').toFixed(0),
    of(variant, 'encodeMicros').toFixed(0),
    of(variant, 'idleCpuMicrosPerSecond').toFixed(0),
    of(variant, 'idleWakeupsPerSecond').toFixed(1),
    of(variant, 'metrics').toFixed(0),
    of(variant, 'dataPoints').toFixed(0),
    of(variant, 'prometheusSeries').toFixed(0),
  ].join(' | '),
);
const theirs = 'instrumentation-runtime-node';
const ratios = [
  ['CPU per collection', of('ours', 'collectMicros'), of(theirs, 'collectMicros'), 0, ' µs'],
  ['CPU per OTLP encoding', of('ours', 'encodeMicros'), of(theirs, 'encodeMicros'), 0, ' µs'],
  ['idle CPU over the provider alone', idleCpu('ours'), idleCpu(theirs), 0, ' µs/s'],
  ['idle wakeups over the provider alone', wakeups('ours'), wakeups(theirs), 1, '/s'],
  ['Prometheus series per process', of('ours', 'prometheusSeries'), of(theirs, 'prometheusSeries'), 0, ''],
] as const;
const ratioRows = ratios.map(
  ([what, ours, other, digits, unit]) =>
    `| ${what} | ${ours.toFixed(digits)}${unit} | ${other.toFixed(digits)}${unit} | ${(ours / other).toFixed(2)}× |`,
);
const day = new Date().toISOString().slice(0, 10);

replaceSection(
  '## Runtime metrics: ours or @opentelemetry/instrumentation-runtime-node',
  `## Runtime metrics: ours or @opentelemetry/instrumentation-runtime-node

Measured ${day} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.versions.node}; ${rounds} rounds, variants
alternating in rotating order, each a fresh process pinned to CPU 0 with one MeterProvider (one reader, cumulative)
and the runtime metrics of one variant on it. Idle: ${values.idle} s with nothing collected; wakeups are voluntary
context switches of the process (a thread that slept and was woken). Collections: ${values.collections}, 100 ms apart, each
timed on its own, then its OTLP protobuf encoding. Series: one collection after a garbage collection, a histogram
counted as Prometheus counts it (buckets with +Inf, \`_sum\`, \`_count\`). Medians over the rounds.

Reproduce: \`node bench/runtime-metrics/run.ts --rounds ${rounds} --idle ${values.idle} --collections ${values.collections}\`

| variant | CPU µs per collection | CPU µs per OTLP encoding | idle CPU µs/s | idle wakeups/s | metrics | OTLP data points | Prometheus series |
|---|---:|---:|---:|---:|---:|---:|---:|
${rows.map((row) => `| ${row} |`).join('\n')}

This library against the instrumentation as its README sets it up:

| measure | libs/telemetry | instrumentation-runtime-node | ratio |
|---|---:|---:|---:|
${ratioRows.join('\n')}
`,
);
