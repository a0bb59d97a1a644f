/**
 * HTTP overhead of the telemetry library, measured side by side in one run:
 *   node bench/http-overhead/run.ts [--rounds 5] [--seconds 8]
 * Each round runs every variant once, in a rotating order, each for the same time at
 * saturation: the service pinned to CPU 0, wrk (1 thread, 32 connections) to CPU 1. The service's CPU time per request comes from /proc; requests/s from wrk.
 * Results: medians over the rounds, and the overhead of each variant over bare Hono (paired by
 * round), in docs/benchmarks.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../../infra/runner/paths.ts';
import { infrastructure } from '../../infra/runner/components.ts';
import { ensureWrk } from '../../infra/runner/install.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { scrapedValue } from '../../tests/support/prometheus.ts';
import { cpuSeconds } from '../measure.ts';
import { median, replaceSection, rotation } from '../report.ts';
import { comparisons, type Variant, variantEnv, variants } from './variants.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '8' } },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const port = 18_080;
const wrk = await ensureWrk();

interface Sample {
  requests: number;
  requestsPerSecond: number;
  cpuMicrosPerRequest: number;
  droppedSpans: number;
}

/** Spans the collector accepted so far: only the variant under test sends any. */
const acceptedSpans = () =>
  scrapedValue(`http://${LOOPBACK}:${ports.collectorMetrics}/metrics`, 'otelcol_receiver_accepted_spans');

async function measure(variant: Variant): Promise<Sample> {
  const acceptedBefore = await acceptedSpans();
  const child = spawn(
    'taskset',
    ['-c', '0', process.execPath, join(repoRoot, 'bench/http-overhead/server.ts')],
    {
      env: {
        ...process.env,
        ...variantEnv[variant],
        BENCH_VARIANT: variant,
        BENCH_PORT: String(port),
        OTEL_METRIC_EXPORT_INTERVAL: '10000',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  while (!output.includes('ready')) await new Promise((resolve) => setTimeout(resolve, 50));
  const url = `http://127.0.0.1:${port}/hello/world`;
  // Warm-up: JIT and connection set-up are not what we measure.
  execFileSync('taskset', ['-c', '1', wrk, '-t1', '-c32', '-d2s', url]);
  const pid = child.pid as number;
  const cpuBefore = await cpuSeconds(pid);
  const report = execFileSync('taskset', ['-c', '1', wrk, '-t1', '-c32', `-d${seconds}s`, url]).toString();
  const cpuAfter = await cpuSeconds(pid);
  const requests = Number(/(\d+) requests in/.exec(report)?.[1]);
  const requestsPerSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(report)?.[1]);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  const { endedSpans } = JSON.parse(
    output.split('\n').find((l) => l.startsWith('{')) ?? '{"endedSpans":0}',
  ) as { endedSpans: number };
  // Lost anywhere on the way (processor queue, exporter, collector): ended here, not accepted there.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const accepted = (await acceptedSpans()) - acceptedBefore;
  const droppedSpans = Math.max(0, endedSpans - accepted);
  return {
    requests,
    requestsPerSecond,
    cpuMicrosPerRequest: ((cpuAfter - cpuBefore) * 1e6) / requests,
    droppedSpans,
  };
}

// Only the pipeline: the platform's services and load generator would compete for the CPUs.
const wasRunning = (await stackStatus())
  .filter((s) => infrastructure.includes(s.name))
  .every((s) => s.healthy);
if ((await stackStatus()).some((s) => !infrastructure.includes(s.name) && s.pid !== undefined)) {
  process.stderr.write(
    'The platform services are running and would disturb the measurement: npm run stack -- stop\n',
  );
  process.exit(1);
}
if (!wasRunning) await startStack(undefined, infrastructure);
const samples = new Map<Variant, Sample[]>(variants.map((v) => [v, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const variant of rotation(variants, round)) {
    const sample = await measure(variant);
    samples.get(variant)?.push(sample);
    process.stderr.write(
      `round ${round + 1}/${rounds} ${variant.padEnd(17)} ${sample.requestsPerSecond.toFixed(0).padStart(7)} req/s ` +
        `${sample.cpuMicrosPerRequest.toFixed(2).padStart(7)} µs CPU/req, ${sample.droppedSpans} spans lost\n`,
    );
  }
}
if (!wasRunning) await stopStack();

/**
 * What a variant adds over another, as the median of their differences round by round: the
 * machine's speed drifts over a run (other tenants), and both samples of a round share it.
 */
function addedOver(variant: Variant, baseline: Variant): number {
  const ours = samples.get(variant) ?? [];
  const theirs = samples.get(baseline) ?? [];
  return median(
    ours.map((s, round) => s.cpuMicrosPerRequest - (theirs[round]?.cpuMicrosPerRequest ?? Number.NaN)),
  );
}
const rows = variants.map((variant) => {
  const list = samples.get(variant) ?? [];
  return {
    variant,
    rps: median(list.map((s) => s.requestsPerSecond)),
    cpu: median(list.map((s) => s.cpuMicrosPerRequest)),
    added: addedOver(variant, 'bare'),
    addedOverNoop: addedOver(variant, 'noop-middleware'),
    dropped: list.reduce((sum, s) => sum + s.droppedSpans, 0),
  };
});
const added = (variant: Variant) => rows.find((r) => r.variant === variant)?.added ?? Number.NaN;
const ratios = comparisons.map(({ setting, ours, honoOtel }) => ({
  setting,
  ours: added(ours),
  honoOtel: added(honoOtel),
  ratio: added(ours) / added(honoOtel),
}));
const ratioTable = [
  '| setting | this library adds | @hono/otel adds | ratio |',
  '|---|---:|---:|---:|',
  ...ratios.map(
    (r) =>
      `| ${r.setting} | ${r.ours.toFixed(2)} µs | ${r.honoOtel.toFixed(2)} µs | ${r.ratio.toFixed(2)}× |`,
  ),
].join('\n');
const table = [
  '| variant | requests/s (median) | CPU µs per request (median) | added over bare Hono | added over a no-op middleware | spans lost |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.variant} | ${r.rps.toFixed(0)} | ${r.cpu.toFixed(2)} | ${r.variant === 'bare' ? '—' : `${r.added.toFixed(2)} µs`} | ${r.variant === 'bare' || r.variant === 'noop-middleware' ? '—' : `${r.addedOverNoop.toFixed(2)} µs`} | ${r.dropped} |`,
  ),
].join('\n');
const section = `## HTTP overhead of libs/telemetry (hello-world route)

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node},
${rounds} rounds × ${seconds} s per variant, variants alternating in rotating order; service pinned to CPU 0,
wrk (1 thread, 32 connections) to CPU 1; spans exported to the real local collector, whose processes (and
Jaeger's) share both CPUs, as in a real deployment on two cores. "Added" is the median over the rounds of
the difference to bare Hono (or the no-op middleware) in the same round.

Reproduce: \`node bench/http-overhead/run.ts --rounds ${rounds} --seconds ${seconds}\` (starts the pipeline if it is not running;
stop the platform's services first)

${table}

Spans lost: sampled spans that the service ended and the collector did not accept, over all rounds.

CPU added over bare Hono, this library against \`@hono/otel\` with the same providers, sampler and collector
(@hono/otel records fewer span attributes and sets no traceresponse header):

${ratioTable}
`;
replaceSection('## HTTP overhead of libs/telemetry (hello-world route)', section);
