/**
 * Signal pipeline: signals per second through trigger-dispatcher and worker, and the latency
 * from a signal's generation to its execution's end, with tracing on, with 10% of the signals
 * traced, and with tracing off (`OTEL_TRACES_EXPORTER=none` for every service), side by side
 * over rounds in rotating order.
 *   node bench/signal-pipeline/run.ts [--rounds 2] [--burst 3000] [--paced-rate 10] [--paced-seconds 30]
 *
 * The signals come from this script, published the way the signal generator publishes them (a
 * root span per signal, JetStream with the signal id as message id), so that the rate is ours to
 * choose; the real signal generator runs beside it for market data. One pipeline per strategy
 * and symbol accepts every signal of its pair, so each signal triggers exactly one execution,
 * unless its pipeline is still running an earlier one, which the dispatcher then skips (as it
 * would in production).
 * - Throughput: a burst of signals published as fast as JetStream takes them; signals per
 *   second = the burst over the time until both consumers have nothing pending.
 * - Latency: signals at a steady rate well below the throughput; p50/p95 of execution end
 *   minus signal generation.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { SpanKind } from '@opentelemetry/api';
import {
  buckets,
  consumers,
  Execution,
  type Signal,
  signalTypes,
  strategies,
  subjects,
  subjectTemplates,
  symbols,
} from '@tradeobs/platform';
import { initTelemetry } from '@tradeobs/telemetry';
import { NatsInstrumentation } from '@tradeobs/telemetry/nats';
import { mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type ComponentName, infrastructure } from '../../infra/runner/components.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { cpuSeconds } from '../measure.ts';
import { median, percentile, replaceSection, rotation } from '../report.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    burst: { type: 'string', default: '3000' },
    'paced-rate': { type: 'string', default: '10' },
    'paced-seconds': { type: 'string', default: '30' },
  },
});
const rounds = Number(values.rounds);
const burst = Number(values.burst);
const pacedRate = Number(values['paced-rate']);
const pacedSeconds = Number(values['paced-seconds']);
const services: ComponentName[] = ['api', 'signal-generator', 'trigger-dispatcher', 'worker'];
const api = `http://${LOOPBACK}:${ports.api}`;

type Mode = 'tracing on' | 'tracing 10%' | 'tracing off';
const modes: readonly Mode[] = ['tracing on', 'tracing 10%', 'tracing off'];
/** Each mode's environment, for the services and for this script's own telemetry alike. */
const modeEnv: Record<Mode, Record<string, string>> = {
  'tracing on': {},
  // The signal's root span decides, and every service follows it.
  'tracing 10%': { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'tracing off': { OTEL_TRACES_EXPORTER: 'none' },
};
function clearTracingEnv(): void {
  delete process.env.OTEL_TRACES_EXPORTER;
  delete process.env.OTEL_TRACES_SAMPLER;
  delete process.env.OTEL_TRACES_SAMPLER_ARG;
}
const modeTag = (mode: Mode) => mode.replace(/\W+/g, '');

interface Result {
  signalsPerSecond: number;
  /** How fast this script got the burst into the stream. */
  publishedPerSecond: number;
  /** CPU used during the burst, in cores, per process (this script included). */
  burstCpu: Record<string, number>;
  executed: number;
  skipped: number;
  p50Millis: number;
  p95Millis: number;
}

/** One pipeline per strategy and symbol, accepting every signal of the pair. */
async function createPipelines(): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const strategy of strategies) {
    for (const symbol of symbols) {
      const response = await fetch(`${api}/pipelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `bench ${strategy} ${symbol}`,
          strategy,
          symbols: [symbol],
          signalFilter: { types: [...signalTypes], minConfidence: 0 },
        }),
      });
      if (response.status !== 201)
        throw new Error(`creating a pipeline: ${response.status} ${await response.text()}`);
      ids.set(`${strategy} ${symbol}`, ((await response.json()) as { id: string }).id);
    }
  }
  // The dispatcher learns of pipelines through a KV watch.
  await sleep(2_000);
  return ids;
}

function signal(id: string, n: number): Signal {
  const now = new Date().toISOString();
  return {
    id,
    type: signalTypes[n % signalTypes.length] ?? 'buy',
    symbol: symbols[n % symbols.length] ?? 'BTCUSD',
    strategy: strategies[Math.floor(n / symbols.length) % strategies.length] ?? 'momentum',
    confidence: 0.9,
    price: 100,
    observedAt: now,
    generatedAt: now,
  };
}

async function measure(mode: Mode, round: number): Promise<Result> {
  process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'bench-signals-'));
  clearTracingEnv();
  Object.assign(process.env, modeEnv[mode]);
  // The generator's own signals would mix with ours: it only supplies market data here.
  process.env.SIGNAL_COOLDOWN_MS = '3600000';
  await startStack(undefined, [...infrastructure, ...services]);
  const pipelines = await createPipelines();

  const telemetry = initTelemetry({ serviceName: 'bench-signal-source', serviceVersion: '0.0.0' });
  const nc = await connect({ servers: `nats://${LOOPBACK}:${ports.natsClient}` });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const messaging = new NatsInstrumentation(telemetry, { subjectTemplates, connection: nc });
  const executions = await new Kvm(js).open(buckets.executions.name);

  const publish = (s: Signal) =>
    telemetry.tracer.startActiveSpan(
      `signal ${s.strategy}`,
      { kind: SpanKind.INTERNAL, root: true },
      async (span) => {
        try {
          await messaging.jetstreamPublish(js, subjects.signal(s.type, s.symbol), JSON.stringify(s), {
            msgID: s.id,
          });
        } finally {
          span.end();
        }
      },
    );
  const idle = async () => {
    const [dispatcher, worker] = await Promise.all([
      jsm.consumers.info(consumers.dispatcher.stream, consumers.dispatcher.config.durable_name),
      jsm.consumers.info(consumers.worker.stream, consumers.worker.config.durable_name),
    ]);
    return (
      dispatcher.num_pending + dispatcher.num_ack_pending + worker.num_pending + worker.num_ack_pending === 0
    );
  };
  const outcomes = async (sent: Signal[]) => {
    const latencies: number[] = [];
    let skipped = 0;
    for (const s of sent) {
      const entry = await executions.get(
        `sig-${s.id}-${pipelines.get(`${s.strategy} ${s.symbol}`)}`.slice(0, 64),
      );
      if (!entry || entry.operation !== 'PUT') {
        skipped += 1;
        continue;
      }
      const execution = Execution.parse(entry.json());
      if (execution.finishedAt) latencies.push(Date.parse(execution.finishedAt) - Date.parse(s.generatedAt));
    }
    return { latencies, skipped };
  };

  // Throughput: the burst, 64 publishes in flight.
  const burstSignals = Array.from({ length: burst }, (_, i) => signal(`b${round}-${modeTag(mode)}-${i}`, i));
  const pids = (await stackStatus()).filter((s) => s.pid !== undefined);
  const cpuNow = async (): Promise<Record<string, number>> => ({
    ...Object.fromEntries(
      await Promise.all(
        pids.map(async (s): Promise<[string, number]> => [s.name, await cpuSeconds(s.pid as number)]),
      ),
    ),
    'this script': process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  });
  const cpuBefore = await cpuNow();
  const startedAt = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < burstSignals.length) await publish(burstSignals[next++] as Signal);
    }),
  );
  const publishSeconds = (Date.now() - startedAt) / 1000;
  while (!(await idle())) await sleep(100);
  const burstSeconds = (Date.now() - startedAt) / 1000;
  const signalsPerSecond = burst / burstSeconds;
  const cpuAfter = await cpuNow();
  const burstCpu = Object.fromEntries(
    Object.entries(cpuAfter).map(([name, used]) => [name, (used - (cpuBefore[name] ?? 0)) / burstSeconds]),
  );
  const burstOutcome = await outcomes(burstSignals);

  // Latency: a steady rate.
  await sleep(2_000);
  const paced: Signal[] = [];
  const pacedStart = Date.now();
  for (let i = 0; i < pacedRate * pacedSeconds; i += 1) {
    const wait = pacedStart + (i * 1000) / pacedRate - Date.now();
    if (wait > 0) await sleep(wait);
    const s = signal(`p${round}-${modeTag(mode)}-${i}`, i);
    paced.push(s);
    void publish(s);
  }
  await sleep(3_000);
  while (!(await idle())) await sleep(100);
  const { latencies } = await outcomes(paced);

  await nc.drain();
  await telemetry.shutdown();
  await stopStack();
  return {
    signalsPerSecond,
    publishedPerSecond: burst / publishSeconds,
    burstCpu,
    executed: burst - burstOutcome.skipped,
    skipped: burstOutcome.skipped,
    p50Millis: percentile(latencies, 50),
    p95Millis: percentile(latencies, 95),
  };
}

await stopStack();
const results = new Map<Mode, Result[]>(modes.map((mode) => [mode, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const mode of rotation(modes, round)) {
    const result = await measure(mode, round);
    results.get(mode)?.push(result);
    process.stderr.write(`round ${round + 1}/${rounds} ${mode}: ${JSON.stringify(result)}\n`);
  }
}
clearTracingEnv();

const summary = (mode: Mode) => {
  const list = results.get(mode) ?? [];
  return {
    rate: median(list.map((r) => r.signalsPerSecond)),
    executed: median(list.map((r) => r.executed)),
    skipped: median(list.map((r) => r.skipped)),
    p50: median(list.map((r) => r.p50Millis)),
    p95: median(list.map((r) => r.p95Millis)),
    cpu: Object.fromEntries(
      Object.keys(list[0]?.burstCpu ?? {}).map((name) => [
        name,
        median(list.map((r) => r.burstCpu[name] ?? 0)),
      ]),
    ),
  };
};
const on = summary('tracing on');
const tenth = summary('tracing 10%');
const off = summary('tracing off');
const busiest = Object.entries(on.cpu)
  .sort(([, a], [, b]) => b - a)
  .slice(0, 6)
  .map(([name]) => name);
const cpuRow = (mode: Mode, s: ReturnType<typeof summary>) =>
  `| ${mode} | ${busiest.map((name) => `${((s.cpu[name] ?? 0) * 100).toFixed(0)}%`).join(' | ')} |`;
const row = (mode: Mode, s: ReturnType<typeof summary>) =>
  `| ${mode} | ${s.rate.toFixed(0)} | ${s.executed} | ${s.skipped} | ${s.p50.toFixed(0)} ms | ${s.p95.toFixed(0)} ms |`;

replaceSection(
  '## Signal pipeline',
  `## Signal pipeline

Signals through trigger-dispatcher and worker (with api, signal generator, NATS and the whole telemetry pipeline
running), tracing on (every signal a trace: publish, dispatch, enqueue, execution and its steps), 10% of the signals
traced (\`OTEL_TRACES_SAMPLER=parentbased_traceidratio\`, \`OTEL_TRACES_SAMPLER_ARG=0.1\`) and tracing off
(\`OTEL_TRACES_EXPORTER=none\`), each on a fresh stack, ${rounds} rounds in rotating order; medians. Throughput: a burst of
${burst} signals, over the time until both consumers have nothing pending. Latency: ${pacedRate} signals/s for ${pacedSeconds} s, execution
end minus signal generation. The script publishes the signals as the signal generator does (see bench/signal-pipeline/run.ts
for why); each triggers one execution unless its pipeline is still running one (then it is skipped, by design).

Reproduce: \`node bench/signal-pipeline/run.ts --rounds ${rounds} --burst ${burst} --paced-rate ${pacedRate} --paced-seconds ${pacedSeconds}\` (stops a running stack first)

| mode | signals/s (burst) | executed | skipped (pipeline running) | p50 signal → execution | p95 signal → execution |
|---|---:|---:|---:|---:|---:|
${row('tracing on', on)}
${row('tracing 10%', tenth)}
${row('tracing off', off)}

Tracing every signal keeps **${((on.rate / off.rate) * 100).toFixed(0)}%** of the untraced throughput, tracing 10% of them
**${((tenth.rate / off.rate) * 100).toFixed(0)}%** (target: at least 90%).

CPU during the burst (100% = one of the ${cpus().length} cores), the busiest processes:

| mode | ${busiest.join(' | ')} |
|---|${busiest.map(() => '---:').join('|')}|
${cpuRow('tracing on', on)}
${cpuRow('tracing 10%', tenth)}
${cpuRow('tracing off', off)}
`,
);
