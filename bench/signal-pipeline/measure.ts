/**
 * One measurement of the signal pipeline on a fresh stack, shared by the tracing comparison
 * (run.ts) and the scale-out comparison (bench/scale-out/run.ts): a burst for throughput, then a
 * steady rate for the latency from a signal's generation to its execution's end.
 *
 * The signals come from here, published the way the signal generator publishes them (a root span
 * per signal, JetStream with the signal id as message id), so that the rate is ours to choose;
 * the real signal generator runs beside it for market data. One pipeline per strategy and symbol
 * accepts every signal of its pair, so each signal triggers exactly one execution, unless its
 * pipeline is still running an earlier one, which the dispatcher then skips (as it would in
 * production).
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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { infrastructure, natsNodes } from '../../infra/runner/components.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import type { StackSettings } from '../../infra/runner/settings.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { cpuSeconds } from '../measure.ts';
import { percentile } from '../report.ts';

const services = ['api', 'signal-generator', 'trigger-dispatcher', 'worker'];
const api = `http://${LOOPBACK}:${ports.api}`;

export interface Load {
  burst: number;
  pacedRate: number;
  pacedSeconds: number;
}

/** The rounds and the load from the command line: [--rounds 2] [--burst 3000] [--paced-rate 10] [--paced-seconds 30]. */
export function roundsAndLoadFromArgs(): { rounds: number; load: Load } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      burst: { type: 'string', default: '3000' },
      'paced-rate': { type: 'string', default: '10' },
      'paced-seconds': { type: 'string', default: '30' },
    },
  });
  return {
    rounds: Number(values.rounds),
    load: {
      burst: Number(values.burst),
      pacedRate: Number(values['paced-rate']),
      pacedSeconds: Number(values['paced-seconds']),
    },
  };
}

export interface Variant {
  /** Unique among the variants of a run: part of the signal ids. */
  tag: string;
  settings: StackSettings;
  /** Set for the services and this process's own telemetry during the measurement. */
  env: Record<string, string>;
}

export interface Result {
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

/**
 * One measurement on a fresh stack in a state directory of its own, stopped afterwards, and the
 * environment as it was, whether the measurement succeeds or not.
 */
export async function measure(variant: Variant, round: number, load: Load): Promise<Result> {
  process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'bench-signals-'));
  // The generator's own signals would mix with ours: it only supplies market data here.
  const env = { ...variant.env, SIGNAL_COOLDOWN_MS: '3600000' };
  const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    await startStack(variant.settings, [...infrastructure, ...services]);
    return await measureOnStack(variant, round, load);
  } finally {
    await stopStack(variant.settings);
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = value;
    }
  }
}

async function measureOnStack(variant: Variant, round: number, load: Load): Promise<Result> {
  const { burst, pacedRate, pacedSeconds } = load;
  const pipelines = await createPipelines();

  const telemetry = initTelemetry({ serviceName: 'bench-signal-source', serviceVersion: '0.0.0' });
  const nc = await connect({
    servers: natsNodes(variant.settings).map((node) => `nats://${LOOPBACK}:${node.clientPort}`),
  });
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
  const burstSignals = Array.from({ length: burst }, (_, i) => signal(`b${round}-${variant.tag}-${i}`, i));
  const pids = (await stackStatus(variant.settings)).filter((s) => s.pid !== undefined);
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
  const pacedPublishes: Promise<void>[] = [];
  const pacedStart = Date.now();
  for (let i = 0; i < pacedRate * pacedSeconds; i += 1) {
    const wait = pacedStart + (i * 1000) / pacedRate - Date.now();
    if (wait > 0) await sleep(wait);
    const s = signal(`p${round}-${variant.tag}-${i}`, i);
    paced.push(s);
    pacedPublishes.push(publish(s));
  }
  await Promise.all(pacedPublishes);
  await sleep(3_000);
  while (!(await idle())) await sleep(100);
  const { latencies } = await outcomes(paced);

  await nc.drain();
  await telemetry.shutdown();
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
