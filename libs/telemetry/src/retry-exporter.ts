/**
 * Takes every batch a batch processor (of spans or of log records) hands over at once, and
 * delivers it in the background, again if need be, so that neither a collector restart nor a
 * slow export loses what was recorded. The SDK's processors alone drop a batch whose export
 * failed, and drop new items while one slow export holds them up and their queue fills (2,048
 * spans are a tenth of a second of a busy service). Memory stays bounded: past
 * `maxBufferedItems` (and `maxBufferedBytes`, for items whose size varies as log records' does)
 * the oldest batches are dropped and counted. Requests never wait for any of this.
 *
 * Only failures that can succeed later are retried (`classifyExportFailure`): an endpoint that
 * is away or overloaded. A batch the endpoint rejected (bad request, bad credentials, too large)
 * would be rejected again, so it is dropped at once and counted under its `error.type`.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base';

/** What the SDK's SpanExporter and LogRecordExporter have in common. */
export interface BatchExporter<Item> {
  export(items: Item[], resultCallback: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The signal whose items are exported: it names them in warnings. */
export type ExportedSignal = 'span' | 'log';

const vocabulary: Record<ExportedSignal, { items: string; field: string }> = {
  span: { items: 'spans', field: 'spans' },
  log: { items: 'log records', field: 'log_records' },
};

export interface RetryingExporterOptions<Item> {
  signal: ExportedSignal;
  maxBufferedItems: number;
  /**
   * With `sizeOf`, a second bound: the estimated bytes of the items held. Log records range from
   * a hundred bytes to the body and attribute limits, so a bound in records alone would be a
   * bound of gigabytes in the worst case.
   */
  maxBufferedBytes?: number;
  sizeOf?: (item: Item) => number;
  /** Batches sent at once while the endpoint answers; one at a time while it fails. */
  maxConcurrentExports?: number;
  /**
   * The first retry waits between half this and this; each further failure doubles the range,
   * up to `maxBackoffMillis`, and a delivery resets it.
   */
  initialBackoffMillis?: number;
  maxBackoffMillis?: number;
  /** Called at most once per `warnIntervalMillis`, for a failed export kept or a batch dropped. */
  warn: (message: string, fields: Record<string, unknown>) => void;
  /** One minute by default: an outage or a misconfiguration is one warning a minute, not one per batch. */
  warnIntervalMillis?: number;
}

export interface RetryingExporterStats {
  /** Items taken but not delivered yet: waiting, being sent, or kept after a failure. */
  bufferedItems: number;
  /** Items never delivered, whatever the reason: the sum of `droppedByErrorType`. */
  droppedItems: number;
  /** Items delivered after a failed export held them back. */
  retriedItems: number;
  /**
   * Dropped items by `error.type`: `buffer_full` for the oldest dropped to bound memory, else
   * the `errorType` of `classifyExportFailure` for a batch the endpoint rejected. Only the types
   * that dropped an item are present.
   */
  droppedByErrorType: ReadonlyMap<string, number>;
}

export interface ExportFailure {
  /** Whether the same batch may be delivered if sent again later. */
  retryable: boolean;
  /** A low-cardinality value for the `error.type` attribute. */
  errorType: string;
}

/** The `error.type` of items dropped because the buffer was full. */
const BUFFER_FULL = 'buffer_full';

/**
 * What the OTLP specification calls retryable over HTTP, and what the SDK's HTTP transport
 * retries itself (`isExportHTTPErrorRetryable`, otlp-exporter-base is-export-retryable).
 */
const RETRYABLE_HTTP_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** An endpoint away, slow or overloaded (the collector's memory limiter refuses with these). */
const RETRYABLE_GRPC_STATUSES: ReadonlySet<number> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
]);

/**
 * Socket errors where no answer came: what a collector outage looks like over HTTP. The set the
 * SDK's HTTP transport retries itself (`isHttpTransportNetworkErrorRetryable`); ENOTFOUND is in
 * it because a stopped container's name stops resolving.
 */
const CONNECTION_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

// Errors the SDK builds without a code, known by their message only (otlp-exporter-base 0.301).
/** otlp-export-delegate: the HTTP transport retried a 429/502/503/504 until its deadline; the status is not kept. */
const HTTP_RETRIES_EXHAUSTED = 'Export failed with retryable status';
/** http-transport-utils: `req.setTimeout` fired. */
const HTTP_TIMED_OUT = 'Request timed out';
/** otlp-export-delegate: its concurrency limit was reached, and nothing was sent. */
const CONCURRENCY_LIMIT = 'Concurrent export limit reached';

/**
 * Whether a failed export of the OTLP exporters (otlp-exporter-base and otlp-grpc-exporter-base
 * 0.301) may succeed later, and its `error.type`. The shapes, as those packages make them:
 * - HTTP answered with a status the SDK does not retry: `OTLPExporterError` with `.code` the
 *   HTTP status (400, 401, 413…) → not retryable, `errorType` the status, e.g. `'400'`.
 * - HTTP answered 429/502/503/504 until the SDK's own retries ran out: `OTLPExporterError`
 *   without a code → retryable, `retryable_status`. With a code (other transports), the status.
 * - gRPC: grpc-js's `ServiceError`, an `Error` with `.code` the gRPC status number, for every
 *   failure, a refused connection included (UNAVAILABLE); the SDK retries none of them →
 *   retryable for UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED; `errorType` the status name.
 * - HTTP without an answer: Node's socket error with `.code` `'ECONNREFUSED'` and the like →
 *   retryable, `connection` (`ETIMEDOUT`: `timeout`); other codes (TLS…) are not retryable,
 *   `errorType` the code. `Error('Request timed out')` → retryable, `timeout`.
 * - The delegate's concurrency limit → retryable, `concurrency_limit`: nothing was sent.
 * - Anything else is not retryable, `errorType` the error's name (`export_failed` if none).
 */
export function classifyExportFailure(error: unknown): ExportFailure {
  if (!(error instanceof Error)) return { retryable: false, errorType: 'export_failed' };
  const code: unknown = 'code' in error ? error.code : undefined;
  // By name too: a second copy of the package (CommonJS beside ESM) has its own class.
  if (error instanceof OTLPExporterError || error.name === 'OTLPExporterError') {
    if (typeof code === 'number') {
      return { retryable: RETRYABLE_HTTP_STATUSES.has(code), errorType: String(code) };
    }
    if (error.message === HTTP_RETRIES_EXHAUSTED) return { retryable: true, errorType: 'retryable_status' };
    return { retryable: false, errorType: error.name };
  }
  if (typeof code === 'number') {
    return { retryable: RETRYABLE_GRPC_STATUSES.has(code), errorType: GrpcStatus[code] ?? String(code) };
  }
  if (typeof code === 'string') {
    if (code === 'ETIMEDOUT') return { retryable: true, errorType: 'timeout' };
    if (CONNECTION_ERROR_CODES.has(code)) return { retryable: true, errorType: 'connection' };
    return { retryable: false, errorType: code };
  }
  if (error.message === HTTP_TIMED_OUT) return { retryable: true, errorType: 'timeout' };
  if (error.message === CONCURRENCY_LIMIT) return { retryable: true, errorType: 'concurrency_limit' };
  return { retryable: false, errorType: error.name };
}

interface Batch<Item> {
  items: Item[];
  /** Estimated by `sizeOf` when the batch was taken; 0 without it. */
  bytes: number;
  failedAttempts: number;
  /** Taken while exports were failing: waited for the endpoint to come back. */
  heldBack: boolean;
}

export class RetryingExporter<Item> implements BatchExporter<Item> {
  readonly #inner: BatchExporter<Item>;
  readonly #options: Required<Omit<RetryingExporterOptions<Item>, 'sizeOf'>>;
  readonly #sizeOf: ((item: Item) => number) | undefined;
  readonly #words: { items: string; field: string };
  /** Oldest first; batches being sent are not in here. */
  readonly #waiting: Batch<Item>[] = [];
  /** Batches being sent, each with the promise that settles when its send has an answer. */
  readonly #sending = new Map<Batch<Item>, Promise<void>>();
  readonly #dropped = new Map<string, number>();
  #droppedItems = 0;
  #retriedItems = 0;
  #failing = false;
  /** The longest the next retry may wait, the shortest being half of it; reset by a delivery. */
  #backoffCeiling: number;
  #timer: NodeJS.Timeout | undefined;
  #lastWarning = Number.NEGATIVE_INFINITY;

  constructor(inner: BatchExporter<Item>, { sizeOf, ...options }: RetryingExporterOptions<Item>) {
    this.#inner = inner;
    this.#sizeOf = sizeOf;
    this.#words = vocabulary[options.signal];
    this.#options = {
      maxBufferedBytes: Number.POSITIVE_INFINITY,
      maxConcurrentExports: 2,
      initialBackoffMillis: 1_000,
      maxBackoffMillis: 30_000,
      warnIntervalMillis: 60_000,
      ...options,
    };
    this.#backoffCeiling = this.#options.initialBackoffMillis;
  }

  stats(): RetryingExporterStats {
    return {
      bufferedItems: this.#held().items,
      droppedItems: this.#droppedItems,
      droppedByErrorType: new Map(this.#dropped),
      retriedItems: this.#retriedItems,
    };
  }

  export(items: Item[], resultCallback: (result: ExportResult) => void): void {
    let bytes = 0;
    if (this.#sizeOf) for (const item of items) bytes += this.#sizeOf(item);
    this.#waiting.push({ items, bytes, failedAttempts: 0, heldBack: this.#failing });
    this.#bound();
    this.#pump();
    // The items are ours now: the processor can go on batching at once.
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  #held(): { items: number; bytes: number } {
    const held = { items: 0, bytes: 0 };
    for (const batch of [...this.#waiting, ...this.#sending.keys()]) {
      held.items += batch.items.length;
      held.bytes += batch.bytes;
    }
    return held;
  }

  #drop(batch: Batch<Item>, errorType: string): void {
    this.#droppedItems += batch.items.length;
    this.#dropped.set(errorType, (this.#dropped.get(errorType) ?? 0) + batch.items.length);
  }

  /** Drops the oldest waiting batches while more than either limit is held. */
  #bound(): void {
    const held = this.#held();
    const { maxBufferedItems, maxBufferedBytes } = this.#options;
    while ((held.items > maxBufferedItems || held.bytes > maxBufferedBytes) && this.#waiting.length > 0) {
      const oldest = this.#waiting.shift() as Batch<Item>;
      held.items -= oldest.items.length;
      held.bytes -= oldest.bytes;
      this.#drop(oldest, BUFFER_FULL);
    }
  }

  /** Starts sends while there is room: several while the endpoint answers, one while it fails. */
  #pump(): void {
    // Checked on every turn: an exporter may answer synchronously, and a failure sets the timer.
    while (
      this.#timer === undefined &&
      this.#waiting.length > 0 &&
      this.#sending.size < (this.#failing ? 1 : this.#options.maxConcurrentExports)
    ) {
      void this.#send(this.#waiting.shift() as Batch<Item>);
    }
  }

  /** Sends one batch; resolves once it was delivered, dropped, or put back to wait after a failure. */
  #send(batch: Batch<Item>): Promise<void> {
    // In the map before the export starts: an exporter may answer synchronously.
    const { promise, resolve } = Promise.withResolvers<undefined>();
    this.#sending.set(batch, promise);
    this.#inner.export(batch.items, (result) => {
      this.#sending.delete(batch);
      if (result.code === ExportResultCode.SUCCESS) {
        if (batch.failedAttempts > 0 || batch.heldBack) this.#retriedItems += batch.items.length;
        this.#failing = false;
        this.#backoffCeiling = this.#options.initialBackoffMillis;
      } else {
        const failure = classifyExportFailure(result.error);
        if (failure.retryable) {
          batch.failedAttempts += 1;
          // Back to the front: the oldest items go first, and are the first dropped if need be.
          this.#waiting.unshift(batch);
          this.#bound();
          this.#retryLater(result.error, failure.errorType);
        } else {
          // Leaves the backoff alone: one rejected batch says nothing of whether the endpoint is up.
          this.#drop(batch, failure.errorType);
          this.#warn(
            `${this.#options.signal} export rejected; dropping the batch`,
            result.error,
            failure.errorType,
            {
              [this.#words.field]: batch.items.length,
            },
          );
        }
      }
      resolve(undefined);
      this.#pump();
    });
    return promise;
  }

  #retryLater(error: Error | undefined, errorType: string): void {
    this.#failing = true;
    // One retry is scheduled at a time; failures of the sends already under way change nothing.
    if (this.#timer !== undefined) return;
    const delay = this.#nextBackoff();
    this.#warn(
      `${this.#options.signal} export failed; keeping ${this.#words.items} to retry`,
      error,
      errorType,
      {
        retry_in_millis: Math.round(delay),
      },
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delay);
    // Pending retries never keep a process alive that is otherwise done.
    this.#timer.unref();
  }

  /**
   * Exponential with "equal jitter": between half the ceiling and the ceiling, the ceiling
   * doubling with each failure. The jitter spreads the retries of many services, which all saw
   * the same collector go away, over time instead of having them all come back at once; the
   * half kept (where "full jitter" may draw 0) ensures that an endpoint that is down is not
   * sent to again right away, each send of ours already being up to the SDK's own retries long.
   */
  #nextBackoff(): number {
    const ceiling = this.#backoffCeiling;
    this.#backoffCeiling = Math.min(ceiling * 2, this.#options.maxBackoffMillis);
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  #warn(message: string, error: Error | undefined, errorType: string, fields: Record<string, unknown>): void {
    const now = performance.now();
    if (now - this.#lastWarning < this.#options.warnIntervalMillis) return;
    this.#lastWarning = now;
    this.#options.warn(message, {
      error: error?.message ?? 'unknown',
      error_type: errorType,
      ...fields,
      [`buffered_${this.#words.field}`]: this.#held().items,
      [`dropped_${this.#words.field}`]: this.#droppedItems,
      // Everything dropped so far, warned of or not: the warnings in between were throttled.
      dropped_by_error_type: Object.fromEntries(this.#dropped),
    });
  }

  /**
   * One attempt to deliver everything held, without waiting for a backoff: every waiting batch
   * is sent now, and the flush resolves when each has been delivered, dropped, or has failed
   * once more. Then the inner exporter's flush.
   */
  async forceFlush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const inFlight = [...this.#sending.values()];
    const waiting = this.#waiting.splice(0);
    await Promise.all([...inFlight, ...waiting.map((batch) => this.#send(batch))]);
    await this.#inner.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#inner.shutdown();
  }
}
