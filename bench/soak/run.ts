/**
 * Soak: the whole stack at ten times the demo's rate, with every process's resident memory and
 * the series count in Prometheus sampled every minute, to show what stays flat and what does
 * not, with the slope of each after the warm-up.
 *   node --conditions=@tradeobs/source bench/soak/run.ts [--minutes 30] [--warmup 10] [--rate 50]
 * A fresh stack state (the demo's own under .stack is left alone); results in docs/benchmarks.md.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { query } from '../../tests/support/prometheus.ts';
import { pidsOf, rssMegabytes } from '../measure.ts';
import { replaceSection } from '../report.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '10' },
    // The demo runs 5 scenarios a second (infra/runner/settings.ts).
    rate: { type: 'string', default: '50' },
  },
});
const minutes = Number(values.minutes);
const warmup = Number(values.warmup);
const rate = Number(values.rate);

/** One sample a minute: RSS per process in MB, and series counts. */
interface Sample {
  minute: number;
  rss: Record<string, number>;
  series: Record<string, number>;
}

/** What Prometheus holds: series the instant lookback sees, and the head block's count. */
const seriesQueries = {
  'platform series (5-minute lookback)':
    'count({job=~"api|worker|signal-generator|trigger-dispatcher|loadgen|notifier"})',
  'by pipeline or bot id': 'count({pipeline_id!=""} or {bot_id!=""})',
  'TSDB head series': 'max(prometheus_tsdb_head_series)',
  // Jaeger keeps no count of what its memory store holds; spans received tell its growth.
  'spans received by Jaeger': 'sum(otelcol_receiver_accepted_spans{job="jaeger"})',
};

async function scalar(expr: string): Promise<number> {
  const [sample] = await query(expr);
  return sample ? Number(sample.value[1]) : 0;
}

/** Least-squares slope per minute over the samples from `from` on. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const numerator = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const denominator = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return numerator / denominator;
}

process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'bench-soak-'));
process.env.LOADGEN_RATE = String(rate);
await startStack();
const samples: Sample[] = [];
try {
  for (let minute = 0; minute <= minutes; minute += 1) {
    if (minute > 0) await sleep(60_000);
    const pids = await pidsOf();
    const rss: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids))
      rss[name] = await rssMegabytes(pid).catch(() => Number.NaN);
    const series: Record<string, number> = {};
    for (const [name, expr] of Object.entries(seriesQueries)) series[name] = await scalar(expr);
    samples.push({ minute, rss, series });
    process.stdout.write(
      `minute ${minute}: ${Object.entries(rss)
        .map(([name, mb]) => `${name} ${mb.toFixed(0)}`)
        .join(', ')} MB; ${Object.entries(series)
        .map(([name, count]) => `${name} ${count}`)
        .join(', ')}\n`,
    );
  }
} finally {
  await stopStack();
}

const settled = samples.filter((sample) => sample.minute >= warmup);
const row = (name: string, values: (sample: Sample) => number | undefined, unit: string) => {
  const points = settled.flatMap((sample): [number, number][] => {
    const value = values(sample);
    return value === undefined || Number.isNaN(value) ? [] : [[sample.minute, value]];
  });
  const first = points[0]?.[1] ?? Number.NaN;
  const last = points.at(-1)?.[1] ?? Number.NaN;
  const perMinute = slope(points);
  const format = (value: number) => value.toFixed(0);
  return `| ${name} | ${format(samples[0] ? (values(samples[0]) ?? Number.NaN) : Number.NaN)} | ${format(first)} | ${format(last)} | ${perMinute >= 0 ? '+' : ''}${perMinute.toFixed(unit === 'MB' ? 2 : 1)} ${unit}/min |`;
};
const names = Object.keys(samples.at(-1)?.rss ?? {});
const section = [
  "## Soak: the stack at ten times the demo's rate",
  '',
  `Measured ${new Date().toISOString().slice(0, 10)}: the whole stack on a fresh state, the load generator at ${rate}`,
  `scenarios a second (the demo's 5, times ten), ${minutes} minutes, one sample a minute; the slope is a least-squares`,
  `fit over minutes ${warmup} to ${minutes}, after the warm-up (Prometheus' head, Jaeger's store and the`,
  'JIT fill in the first minutes).',
  '',
  `Reproduce: \`node --conditions=@tradeobs/source bench/soak/run.ts --minutes ${minutes} --warmup ${warmup} --rate ${rate}\``,
  '',
  `| resident memory | start | minute ${warmup} | minute ${minutes} | slope after warm-up |`,
  '|---|---:|---:|---:|---:|',
  ...names.map((name) => row(name, (sample) => sample.rss[name], 'MB')),
  '',
  `| counted | start | minute ${warmup} | minute ${minutes} | slope after warm-up |`,
  '|---|---:|---:|---:|---:|',
  ...Object.keys(seriesQueries).map((name) =>
    row(name, (sample) => sample.series[name], name.startsWith('spans') ? 'spans' : 'series'),
  ),
  '',
].join('\n');
replaceSection("## Soak: the stack at ten times the demo's rate", section);
process.stdout.write(`\nRaw samples: ${JSON.stringify(samples)}\n`);
