/**
 * An in-memory copy of a bucket, kept current by watching it: for hot-path reads (the
 * dispatcher matching every signal, the worker finding a pipeline's bots) without a
 * key-value round trip each time.
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

export function mirror<S extends z.ZodType<{ id: string }>>(
  store: Store<S>,
  logger: Logger,
  signal: AbortSignal,
  onChange?: (entries: ReadonlyMap<string, z.infer<S>>) => void,
): Mirror<z.infer<S>> {
  const entries = new Map<string, z.infer<S>>();
  const watched = new Set<string>();
  const onCorrupt = (error: Error) => logger.error('corrupt entry ignored', { bucket: store.bucket, error });
  // The watch replays current values before changes, so the copy converges whatever the
  // interleaving with this first full read, which only tells when the copy is complete.
  const loaded = store.list(onCorrupt).then((values) => {
    for (const value of values) if (!watched.has(value.id)) entries.set(value.id, value);
    onChange?.(entries);
  });
  void (async () => {
    for await (const change of store.watch(onCorrupt, signal)) {
      watched.add(change.key);
      if (change.value === undefined) entries.delete(change.key);
      else entries.set(change.key, change.value);
      onChange?.(entries);
    }
  })().catch((error: unknown) => logger.error('bucket watch ended', { bucket: store.bucket, error }));
  return {
    get: (key) => entries.get(key),
    values: () => entries.values(),
    get size() {
      return entries.size;
    },
    loaded,
  };
}
