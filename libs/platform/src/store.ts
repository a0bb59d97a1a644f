/**
 * A typed, instrumented view of one key-value bucket: values are JSON validated by a schema,
 * and every operation is a CLIENT span and a point in kv.operations / kv.operation.duration
 * (seed 001's Redis metrics, NATS KV here).
 */
import { SpanKind } from '@opentelemetry/api';
import { type KV, type KvEntry, type KvWatchEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { type ExpectedAnswer, Operation } from '@tradeobs/telemetry';
import type { z } from 'zod';
import { retryWhileUnanswered } from './retry.ts';
import type { PlatformTelemetry } from './telemetry.ts';
import { buckets } from './topology.ts';

type KvTelemetry = Pick<PlatformTelemetry, 'tracer' | 'metrics'>;
type StoreTelemetry = Pick<PlatformTelemetry, 'tracer' | 'metrics' | 'logger'>;

export interface Versioned<T> {
  value: T;
  revision: number;
}

/** A stored value that no longer matches its schema: reported, never silently dropped. */
export class CorruptEntryError extends Error {
  constructor(bucket: string, key: string, cause: unknown) {
    super(`entry ${key} of bucket ${bucket} does not match its schema`, { cause });
    this.name = 'CorruptEntryError';
  }
}

/** Raised by update() when someone else changed the entry first. */
export function isRevisionConflict(error: unknown): boolean {
  return error instanceof Error && /wrong last sequence|key exists/i.test(error.message);
}

/**
 * A compare-and-set that lost is an answer, not a failure (a pipeline already running, a
 * concurrent edit): no error status, and no exception with its stack on a path the dispatcher
 * takes for most signals in a burst.
 */
const lostCompareAndSet: ExpectedAnswer = {
  outcome: 'conflict',
  spanAttributes: { 'db.response.status_code': 'conflict' },
};

function classifyKvError(error: unknown): ExpectedAnswer | undefined {
  return isRevisionConflict(error) ? lostCompareAndSet : undefined;
}

export class Store<S extends z.ZodType> {
  readonly #kv: KV;
  readonly #schema: S;
  readonly #operations: Operation;
  readonly bucket: string;

  constructor(kv: KV, bucket: string, schema: S, telemetry: KvTelemetry) {
    this.#kv = kv;
    this.bucket = bucket;
    this.#schema = schema;
    this.#operations = new Operation({
      tracer: telemetry.tracer,
      count: telemetry.metrics.kvOperations,
      // Its view keeps bucket and operation only: the outcome is counted, not timed.
      duration: telemetry.metrics.kvOperationDuration,
      outcomeAttribute: 'status',
      classify: classifyKvError,
    });
  }

  #observe<R>(operation: string, key: string | undefined, work: () => Promise<R>): Promise<R> {
    return this.#operations.run(
      `kv ${operation} ${this.bucket}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'nats_kv',
          'db.operation.name': operation,
          'db.collection.name': this.bucket,
          ...(key === undefined ? {} : { 'db.query.summary': `${operation} ${this.bucket}` }),
        },
        metricAttributes: { bucket: this.bucket, operation, status: 'ok' },
      },
      work,
    );
  }

  #decode(key: string, entry: KvEntry | KvWatchEntry): z.infer<S> {
    try {
      return this.#schema.parse(entry.json<unknown>());
    } catch (error) {
      throw new CorruptEntryError(this.bucket, key, error);
    }
  }

  get(key: string): Promise<Versioned<z.infer<S>> | undefined> {
    return this.#observe('get', key, async () => {
      const entry = await this.#kv.get(key);
      if (!entry || entry.operation !== 'PUT') return undefined;
      return { value: this.#decode(key, entry), revision: entry.revision };
    });
  }

  put(key: string, value: z.infer<S>): Promise<number> {
    return this.#observe('put', key, () => this.#kv.put(key, JSON.stringify(value)));
  }

  /** Writes only if the key does not exist (or was deleted); throws a revision conflict otherwise. */
  create(key: string, value: z.infer<S>): Promise<number> {
    return this.#observe('create', key, () => this.#kv.create(key, JSON.stringify(value)));
  }

  /** Writes only if the entry is still at `revision`; throws a revision conflict otherwise. */
  update(key: string, value: z.infer<S>, revision: number): Promise<number> {
    return this.#observe('update', key, () => this.#kv.update(key, JSON.stringify(value), revision));
  }

  delete(key: string): Promise<void> {
    return this.#observe('delete', key, () => this.#kv.delete(key));
  }

  /**
   * Reads, changes and writes one entry, retrying when another writer got there first.
   * `change` returns undefined to leave the entry alone.
   */
  async modify(
    key: string,
    change: (current: z.infer<S> | undefined) => z.infer<S> | undefined,
    attempts = 10,
  ): Promise<z.infer<S> | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.get(key);
      const next = change(current?.value);
      if (next === undefined) return current?.value;
      try {
        if (current) await this.update(key, next, current.revision);
        else await this.create(key, next);
        return next;
      } catch (error) {
        if (!isRevisionConflict(error) || attempt >= attempts) throw error;
      }
    }
  }

  /** Every current value; entries that fail their schema are passed to `onCorrupt`. */
  list(onCorrupt: (error: CorruptEntryError) => void): Promise<z.infer<S>[]> {
    return this.#observe('list', undefined, async () => {
      const values: z.infer<S>[] = [];
      const keys: string[] = [];
      for await (const key of await this.#kv.keys()) keys.push(key);
      for (const key of keys) {
        const entry = await this.#kv.get(key);
        if (!entry || entry.operation !== 'PUT') continue;
        try {
          values.push(this.#decode(key, entry));
        } catch (error) {
          onCorrupt(error as CorruptEntryError);
        }
      }
      return values;
    });
  }

  /**
   * Current values, then every change, as an async iterator: `{ key, value }` for a put and
   * `{ key, value: undefined }` for a delete. `current` is true once the bucket's content at
   * the start has been delivered (at once for an empty bucket). Ends when `signal` aborts.
   */
  async *watch(
    onCorrupt: (error: CorruptEntryError) => void,
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent<z.infer<S>>> {
    const empty = (await this.#kv.status()).values === 0;
    if (empty) yield { current: true };
    const watcher = await this.#kv.watch();
    signal?.addEventListener('abort', () => watcher.stop(), { once: true });
    for await (const entry of watcher) {
      // The initial replay counts down to delta 0; later entries are updates.
      const current = empty || entry.isUpdate || entry.delta === 0;
      if (entry.operation !== 'PUT') {
        yield { key: entry.key, value: undefined, current };
        continue;
      }
      try {
        yield { key: entry.key, value: this.#decode(entry.key, entry), current };
      } catch (error) {
        onCorrupt(error as CorruptEntryError);
        if (current) yield { current };
      }
    }
  }
}

export type WatchEvent<T> =
  { key: string; value: T | undefined; current: boolean } | { key?: undefined; current: true };

/** What opening a bucket needs: the connection, the telemetry, and how many nodes keep it. */
export interface StoreContext {
  readonly nc: NatsConnection;
  readonly telemetry: StoreTelemetry;
  /** Replicas of a bucket created here (NATS_STREAM_REPLICAS); an existing one keeps its own. */
  readonly replicas: number;
}

/** Opens (creating it when missing) one of the platform's buckets as a typed store. */
export async function openStore<S extends z.ZodType>(
  context: StoreContext,
  bucket: keyof typeof buckets,
  schema: S,
): Promise<Store<S>> {
  const { name, options } = buckets[bucket];
  const kvm = new Kvm(context.nc);
  const kv = await retryWhileUnanswered(
    `opening bucket ${name}`,
    () =>
      kvm.create(name, {
        ...options,
        replicas: context.replicas,
        // A direct get is answered by whichever replica hears it first, and a follower may not
        // have applied the latest write: on a three-node cluster the worker read executions
        // still missing or a revision behind, and lost its compare-and-set on them. Replicated,
        // every read goes to the stream's leader, which orders it after the writes it acknowledged.
        allow_direct: context.replicas === 1,
      }),
    context.telemetry.logger,
  );
  return new Store(kv, name, schema, context.telemetry);
}
