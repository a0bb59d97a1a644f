/**
 * An in-memory copy of a bucket, kept current by watching it: for hot-path reads (the
 * dispatcher matching every signal, the worker finding a pipeline's bots, the api listing
 * executions) without a key-value round trip per entry.
 */
import type { z } from 'zod';
import type { Logger } from '@tradeobs/telemetry';
import type { Store } from './store.ts';

export interface Mirror<T> {
  get(key: string): T | undefined;
  values(): IterableIterator<T>;
  readonly size: number;
  /** Resolves once the bucket's current content has been loaded. */
  readonly loaded: Promise<void>;
}

export interface Expiry<T> {
  /** The bucket's TTL: the server drops older entries without telling watchers, so must we. */
  maxAgeMillis: number;
  /** When an entry was written, in epoch milliseconds. */
  writtenAt: (value: T) => number;
}

export function mirror<S extends z.ZodType>(
  store: Store<S>,
  logger: Logger,
  signal: AbortSignal,
  onChange?: (entries: ReadonlyMap<string, z.infer<S>>) => void,
  expiry?: Expiry<z.infer<S>>,
): Mirror<z.infer<S>> {
  const entries = new Map<string, z.infer<S>>();
  const onCorrupt = (error: Error) => logger.error('corrupt entry ignored', { bucket: store.bucket, error });
  let markLoaded: () => void = () => undefined;
  const loaded = new Promise<void>((resolve) => {
    markLoaded = resolve;
  });
  let isLoaded = false;
  void (async () => {
    for await (const event of store.watch(onCorrupt, signal)) {
      if (event.key !== undefined) {
        if (event.value === undefined) entries.delete(event.key);
        else entries.set(event.key, event.value);
      }
      // Listeners hear about the bucket once it is complete, then about every change.
      if (event.current && !isLoaded) {
        isLoaded = true;
        markLoaded();
      }
      if (isLoaded) onChange?.(entries);
    }
  })().catch((error: unknown) => logger.error('bucket watch ended', { bucket: store.bucket, error }));
  if (expiry) {
    const sweep = setInterval(() => {
      const oldest = Date.now() - expiry.maxAgeMillis;
      for (const [key, value] of entries) if (expiry.writtenAt(value) < oldest) entries.delete(key);
    }, 60_000);
    sweep.unref();
    signal.addEventListener('abort', () => clearInterval(sweep), { once: true });
  }
  return {
    get: (key) => entries.get(key),
    values: () => entries.values(),
    get size() {
      return entries.size;
    },
    loaded,
  };
}
