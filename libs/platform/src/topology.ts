/**
 * Where everything lives on NATS: subjects, streams, consumers and key-value buckets, in one
 * table. Every service declares the topology at start-up (idempotently), so no service
 * depends on another having started first.
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  type StreamConfig,
  StorageType,
  type ConsumerConfig,
} from '@nats-io/jetstream';
import type { KvOptions } from '@nats-io/kv';

const seconds = (n: number) => n * 1_000_000_000;
const minutes = (n: number) => seconds(60 * n);

export const subjects = {
  /** `signals.<type>.<symbol>`: generated trading signals. */
  signal: (type: string, symbol: string) => `signals.${type}.${symbol}`,
  signals: 'signals.*.*',
  /** `market.ticks.<symbol>`: synthetic market data, core NATS (latest wins, no replay). */
  tick: (symbol: string) => `market.ticks.${symbol}`,
  ticks: 'market.ticks.*',
  /** Work queue of pipeline executions. */
  executionRequests: 'executions.requests',
  /** `deadletter.<stream>`: messages no consumer could handle, kept for inspection. */
  deadLetter: (source: string) => `deadletter.${source}`,
  deadLetters: 'deadletter.>',
} as const;

/**
 * The platform's destinations, so that spans and metrics name `signals.*.*` rather than every
 * symbol: every subject it publishes to or consumes, the fixed ones included (a subject that
 * matches none is left off the messaging metrics).
 */
export const subjectTemplates = [
  subjects.signals,
  subjects.ticks,
  subjects.executionRequests,
  subjects.deadLetters,
] as const;

export const streams = {
  signals: {
    name: 'SIGNALS',
    subjects: [subjects.signals],
    retention: RetentionPolicy.Limits,
    max_age: minutes(60),
    storage: StorageType.File,
    duplicate_window: minutes(2),
  },
  executions: {
    name: 'EXECUTIONS',
    subjects: [subjects.executionRequests],
    retention: RetentionPolicy.Workqueue,
    max_age: minutes(60),
    storage: StorageType.File,
    // Publishing with Nats-Msg-Id = execution id makes a repeated request a no-op.
    duplicate_window: minutes(2),
  },
  deadLetters: {
    name: 'DEADLETTER',
    subjects: [subjects.deadLetters],
    retention: RetentionPolicy.Limits,
    max_age: minutes(7 * 24 * 60),
    storage: StorageType.File,
  },
} as const satisfies Record<string, Partial<StreamConfig> & { name: string }>;

/** How many times a message is delivered before it goes to the dead-letter stream. */
export const maxDeliveries = 5;

/**
 * How long a delivered message may go unacknowledged before JetStream hands it to another
 * instance. A handler that takes longer says it is still working (consume.ts), so that only a
 * lost instance's messages come back.
 */
export const ackWaitSeconds = 30;

export const consumers = {
  dispatcher: {
    stream: streams.signals.name,
    config: {
      durable_name: 'trigger-dispatcher',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      ack_wait: seconds(ackWaitSeconds),
      max_deliver: maxDeliveries,
    },
  },
  worker: {
    stream: streams.executions.name,
    config: {
      durable_name: 'worker',
      ack_policy: AckPolicy.Explicit,
      ack_wait: seconds(ackWaitSeconds),
      max_deliver: maxDeliveries,
    },
  },
} as const satisfies Record<string, { stream: string; config: Partial<ConsumerConfig> }>;

export const buckets = {
  pipelines: { name: 'pipelines', options: { history: 1 } },
  bots: { name: 'bots', options: { history: 1 } },
  /** Two hours of executions: about 8,000 at the demo's rate, all held by the api in memory. */
  executions: { name: 'executions', options: { history: 1, ttl: 2 * 3600 * 1000 } },
  portfolio: { name: 'portfolio', options: { history: 1 } },
  /** One key per running pipeline; the TTL frees a lock whose worker died. */
  runningPipelines: { name: 'running-pipelines', options: { history: 1, ttl: 5 * 60 * 1000 } },
} as const satisfies Record<string, { name: string; options: Partial<KvOptions> }>;

/**
 * Only "not found" means "create it": a timeout or a cluster without a leader yet must fail the
 * start-up step (which names it), not try to create what may well exist.
 */
function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/**
 * Creates the streams and consumers, or leaves them as they are when they exist. `replicas` is
 * how many nodes of a JetStream cluster keep each stream (NATS_STREAM_REPLICAS, which the stack
 * runner sets from NATS_CLUSTER): 1 on a single server, 3 on a three-node cluster, so that
 * losing one node loses nothing. Consumers inherit their stream's replicas.
 */
export async function declareStreams(jsm: JetStreamManager, replicas = 1): Promise<void> {
  for (const stream of Object.values(streams)) {
    try {
      await jsm.streams.info(stream.name);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      await jsm.streams.add({ ...stream, subjects: [...stream.subjects], num_replicas: replicas });
    }
  }
  for (const consumer of Object.values(consumers)) {
    try {
      await jsm.consumers.info(consumer.stream, consumer.config.durable_name);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      await jsm.consumers.add(consumer.stream, consumer.config);
    }
  }
}
