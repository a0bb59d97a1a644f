/**
 * HTTP overhead of the telemetry library, measured side by side in one run:
 *   node bench/http-overhead/run.ts [--rounds 5] [--seconds 8] [--metric-interval 10]
 *     [--variants bare,hono-prometheus]
 * Each round runs every variant once, in a rotating order, each for the same time at
 * saturation: the service pinned to CPU 0, wrk (1 thread, 32 connections) to CPU 1. The service's CPU time per request comes from /proc; requests/s from wrk.
 * Results: medians over the rounds, and the overhead of each variant over bare Hono (paired by
 * round), in docs/benchmarks.md. --variants measures only those (a quick check: the results
 * are printed, not written to the docs; a run of only the variants that send nothing to the
 * collector leaves the stack alone).
 */
import { execFile, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { repoRoot } from '../../infra/runner/paths.ts';
import { infrastructure } from '../../infra/runner/components.ts';
import { ensureWrk } from '../../infra/runner/install.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { scrapedValue } from '../../tests/support/prometheus.ts';
import { cpuSeconds } from '../measure.ts';
import { median, replaceSection, rotation } from '../report.ts';
import { comparisons, scraped, standalone, type Variant, variantEnv, variants } from './variants.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '8' },
    // How often metrics leave the service, the same for every variant so that they compare like
    // for like: the SDK's export interval (OTEL_METRIC_EXPORT_INTERVAL) for this library and
    // @hono/otel, and the interval at which this process scrapes @hono/prometheus's /metrics.
    // 10 s by default, the export interval this benchmark has always used; the stack's
    // Prometheus scrapes every 15 s (infra/prometheus/prometheus.yml): --metric-interval 15.
    'metric-interval': { type: 'string', default: '10' },
    variants: { type: 'string', default: variants.join(',') },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const metricIntervalMillis = Number(values['metric-interval']) * 1000;
const selected = values.variants.split(',').map((name) => {
  const variant = variants.find((v) => v === name.trim());
  if (variant === undefined) throw new Error(`unknown variant ${name}: one of ${variants.join(', ')}`);
  return variant;
});
const everyVariant = variants.every((v) => selected.includes(v));
const port = 18_080;
const wrk = await ensureWrk();
const execFileAsync = promisify(execFile);

interface Sample {
  requests: number;
  requestsPerSecond: number;
  cpuMicrosPerRequest: number;
  droppedSpans: number;
  /** Scrapes of /metrics that ended within the measured time (scraped variants only). */
  scrapes: number;
}

/**
 * Prometheus in the small: GETs `url` every `intervalMillis` from now until stopped, and fails
 * on anything but a 200 with the middleware's metrics in it. It runs in this process, which is
 * not pinned, as Prometheus runs outside the service: only the service's side is measured.
 */
function startScraper(url: string, intervalMillis: number) {
  const ended: number[] = [];
  const failures: string[] = [];
  const scrape = async () => {
    const response = await fetch(url);
    const body = await response.text();
    if (response.status !== 200 || !body.includes('http_requests_total')) {
      throw new Error(`GET ${url}: ${response.status} ${body.slice(0, 200)}`);
    }
    ended.push(performance.now());
  };
  const timer = setInterval(() => {
    scrape().catch((error: unknown) => failures.push(String(error)));
  }, intervalMillis);
  return {
    /** Scrapes that ended between `from` and `to` (performance.now() times). */
    between: (from: number, to: number) => ended.filter((t) => t >= from && t <= to).length,
    /** Stops, and fails if any scrape did. */
    stop: () => {
      clearInterval(timer);
      if (failures.length > 0) throw new Error(`scrapes failed: ${failures.join('; ')}`);
    },
    cancel: () => clearInterval(timer),
  };
}

/** Spans the collector accepted so far: only the variant under test sends any. */
const acceptedSpans = () =>
  scrapedValue(`http://${LOOPBACK}:${ports.collectorMetrics}/metrics`, 'otelcol_receiver_accepted_spans');

async function measure(variant: Variant): Promise<Sample> {
  const sendsSpans = !standalone.includes(variant);
  const acceptedBefore = sendsSpans ? await acceptedSpans() : 0;
  // server.ts imports libs/telemetry by relative path: it needs no --conditions=@tradeobs/source.
  const child = spawn(
    'taskset',
    ['-c', '0', process.execPath, join(repoRoot, 'bench/http-overhead/server.ts')],
    {
      env: {
        ...process.env,
        ...variantEnv[variant],
        BENCH_VARIANT: variant,
        BENCH_PORT: String(port),
        OTEL_METRIC_EXPORT_INTERVAL: String(metricIntervalMillis),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  let scraper: ReturnType<typeof startScraper> | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${variant}: the service exited (${code}) before it was ready`)),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (scraper !== undefined || !output.includes('ready')) return;
      // From the moment the service listens, as the SDK's export timer runs from initTelemetry(),
      // a few milliseconds before: a scrape lands in the measured time when an export would.
      if (scraped.includes(variant)) {
        scraper = startScraper(`http://127.0.0.1:${port}/metrics`, metricIntervalMillis);
      }
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}/hello/world`;
  // wrk runs asynchronously so that the scraper's timer fires meanwhile.
  const runWrk = async (duration: number) =>
    (await execFileAsync('taskset', ['-c', '1', wrk, '-t1', '-c32', `-d${duration}s`, url])).stdout;
  // The measurement proper: on any failure, the service is killed before the error goes on.
  const run = async () => {
    await ready;
    const probe = await fetch(url);
    if (probe.status !== 200 || (await probe.text()) !== 'hello world') {
      throw new Error(`${variant}: GET ${url} answered ${probe.status}`);
    }
    // Warm-up: JIT and connection set-up are not what we measure.
    await runWrk(2);
    const cpuBefore = await cpuSeconds(child.pid as number);
    const from = performance.now();
    const report = await runWrk(seconds);
    const to = performance.now();
    const cpuAfter = await cpuSeconds(child.pid as number);
    const scrapes = scraper?.between(from, to) ?? 0;
    scraper?.stop();
    return { cpuBefore, cpuAfter, report, scrapes };
  };
  const { cpuBefore, cpuAfter, report, scrapes } = await run().catch((error: unknown) => {
    scraper?.cancel();
    child.kill('SIGKILL');
    throw error;
  });
  const requests = Number(/(\d+) requests in/.exec(report)?.[1]);
  const requestsPerSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(report)?.[1]);
  const failed = Number(/Non-2xx or 3xx responses: (\d+)/.exec(report)?.[1] ?? 0);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  const { endedSpans } = JSON.parse(
    output.split('\n').find((l) => l.startsWith('{')) ?? '{"endedSpans":0}',
  ) as { endedSpans: number };
  if (failed > 0) throw new Error(`${variant}: ${failed} of ${requests} requests did not answer 200`);
  let droppedSpans = 0;
  if (sendsSpans) {
    // Lost anywhere on the way (processor queue, exporter, collector): ended here, not accepted there.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const accepted = (await acceptedSpans()) - acceptedBefore;
    droppedSpans = Math.max(0, endedSpans - accepted);
  }
  return {
    requests,
    requestsPerSecond,
    cpuMicrosPerRequest: ((cpuAfter - cpuBefore) * 1e6) / requests,
    droppedSpans,
    scrapes,
  };
}

// Only the pipeline: the platform's services and load generator would compete for the CPUs.
// A run of only the variants that send nothing to the collector needs no pipeline at all.
const needsPipeline = selected.some((v) => !standalone.includes(v));
const wasRunning =
  !needsPipeline ||
  (await stackStatus()).filter((s) => infrastructure.includes(s.group)).every((s) => s.healthy);
if (
  needsPipeline &&
  (await stackStatus()).some((s) => !infrastructure.includes(s.group) && s.pid !== undefined)
) {
  process.stderr.write(
    'The platform services are running and would disturb the measurement: npm run stack -- stop\n',
  );
  process.exit(1);
}
if (!wasRunning) await startStack(undefined, infrastructure);
const samples = new Map<Variant, Sample[]>(selected.map((v) => [v, []]));
const width = Math.max(...selected.map((v) => v.length));
for (let round = 0; round < rounds; round += 1) {
  for (const variant of rotation(selected, round)) {
    const sample = await measure(variant);
    samples.get(variant)?.push(sample);
    process.stderr.write(
      `round ${round + 1}/${rounds} ${variant.padEnd(width)} ${sample.requestsPerSecond.toFixed(0).padStart(7)} req/s ` +
        `${sample.cpuMicrosPerRequest.toFixed(2).padStart(7)} µs CPU/req, ` +
        `${scraped.includes(variant) ? `${sample.scrapes} scrapes` : `${sample.droppedSpans} spans lost`}\n`,
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
const rows = selected.map((variant) => {
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
const micros = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)} µs` : '—');
const ratios = comparisons
  .filter(({ ours, theirs }) => selected.includes(ours) && selected.includes(theirs))
  .map(({ setting, ours, alternative, theirs }) => ({
    setting,
    alternative,
    ours: added(ours),
    theirs: added(theirs),
    ratio: added(ours) / added(theirs),
  }));
const ratioTable = [
  '| setting | alternative | this library adds | the alternative adds | ratio |',
  '|---|---|---:|---:|---:|',
  ...ratios.map(
    (r) =>
      `| ${r.setting} | \`${r.alternative}\` | ${micros(r.ours)} | ${micros(r.theirs)} | ${r.ratio.toFixed(2)}× |`,
  ),
].join('\n');
const table = [
  '| variant | requests/s (median) | CPU µs per request (median) | added over bare Hono | added over a no-op middleware | spans lost |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.variant} | ${r.rps.toFixed(0)} | ${r.cpu.toFixed(2)} | ${r.variant === 'bare' ? '—' : micros(r.added)} | ${r.variant === 'bare' || r.variant === 'noop-middleware' ? '—' : micros(r.addedOverNoop)} | ${standalone.includes(r.variant) ? '—' : r.dropped} |`,
  ),
].join('\n');
const scrapes = selected
  .filter((v) => scraped.includes(v))
  .reduce((sum, v) => sum + (samples.get(v) ?? []).reduce((n, s) => n + s.scrapes, 0), 0);
const options =
  `--rounds ${rounds} --seconds ${seconds} --metric-interval ${metricIntervalMillis / 1000}` +
  (everyVariant ? '' : ` --variants ${selected.join(',')}`);
const section = `## HTTP overhead of libs/telemetry (hello-world route)

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node},
${rounds} rounds × ${seconds} s per variant, variants alternating in rotating order; service pinned to CPU 0,
wrk (1 thread, 32 connections) to CPU 1; spans exported to the real local collector, whose processes (and
Jaeger's) share both CPUs, as in a real deployment on two cores. "Added" is the median over the rounds of
the difference to bare Hono (or the no-op middleware) in the same round.

Metrics leave every service each ${metricIntervalMillis / 1000} s: the SDK exports them over OTLP (this library,
\`@hono/otel\`), or the benchmark's driver scrapes \`@hono/prometheus\`'s \`/metrics\` as Prometheus would
(${scrapes} scrapes fell within the measured time, over all rounds).

Reproduce: \`node bench/http-overhead/run.ts ${options}\` (starts the pipeline if it is not running;
stop the platform's services first)

${table}

Spans lost: sampled spans that the service ended and the collector did not accept, over all rounds.

CPU added over bare Hono, this library against \`@hono/otel\` with the same providers, sampler and collector
(@hono/otel records fewer span attributes and sets no traceresponse header), and against \`@hono/prometheus\`
on prom-client as its README sets it up (a request counter and a duration histogram by method, route and
status; prom-client's default metrics off, while this library also collects its runtime metrics):

${ratioTable}
`;
if (everyVariant) replaceSection('## HTTP overhead of libs/telemetry (hello-world route)', section);
// A partial run is a quick check, not a result for the docs.
else process.stdout.write(section);
