/**
 * Takes every batch the BatchSpanProcessor hands over at once, and delivers it in the
 * background, again and again if need be, so that neither a collector restart nor a slow
 * export loses spans. The processor alone drops a batch whose export failed, and drops new
 * spans while one slow export holds it up and its queue fills (2,048 spans are a tenth of a
 * second of a busy service). Memory stays bounded: past `maxBufferedSpans` the oldest batches
 * are dropped and counted. Requests never wait for any of this.
 */
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

export interface RetryingSpanExporterOptions {
  maxBufferedSpans: number;
  /** Batches sent at once while the endpoint answers; one at a time while it fails. */
  maxConcurrentExports?: number;
  initialBackoffMillis?: number;
  maxBackoffMillis?: number;
  /** Called at most once per `warnIntervalMillis` while exports fail. */
  warn: (message: string, fields: Record<string, unknown>) => void;
  warnIntervalMillis?: number;
}

export interface RetryStats {
  /** Spans taken but not delivered yet: waiting, being sent, or kept after a failure. */
  bufferedSpans: number;
  droppedSpans: number;
  /** Spans delivered after a failed export held them back. */
  retriedSpans: number;
}

interface Batch {
  spans: ReadableSpan[];
  failedAttempts: number;
  /** Taken while exports were failing: waited for the endpoint to come back. */
  heldBack: boolean;
}

export class RetryingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #options: Required<RetryingSpanExporterOptions>;
  /** Oldest first; batches being sent are not in here. */
  readonly #waiting: Batch[] = [];
  /** Batches being sent, each with the promise that settles when its send has an answer. */
  readonly #sending = new Map<Batch, Promise<void>>();
  #droppedSpans = 0;
  #retriedSpans = 0;
  #failing = false;
  #backoff: number;
  #timer: NodeJS.Timeout | undefined;
  #lastWarning = 0;

  constructor(inner: SpanExporter, options: RetryingSpanExporterOptions) {
    this.#inner = inner;
    this.#options = {
      maxConcurrentExports: 2,
      initialBackoffMillis: 1_000,
      maxBackoffMillis: 30_000,
      warnIntervalMillis: 30_000,
      ...options,
    };
    this.#backoff = this.#options.initialBackoffMillis;
  }

  stats(): RetryStats {
    return {
      bufferedSpans: this.#heldSpans(),
      droppedSpans: this.#droppedSpans,
      retriedSpans: this.#retriedSpans,
    };
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#waiting.push({ spans, failedAttempts: 0, heldBack: this.#failing });
    this.#bound();
    this.#pump();
    // The spans are ours now: the processor can go on batching at once.
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  #heldSpans(): number {
    let spans = 0;
    for (const batch of this.#waiting) spans += batch.spans.length;
    for (const batch of this.#sending.keys()) spans += batch.spans.length;
    return spans;
  }

  /** Drops the oldest waiting batches while more than the limit are held. */
  #bound(): void {
    let held = this.#heldSpans();
    while (held > this.#options.maxBufferedSpans && this.#waiting.length > 0) {
      const oldest = this.#waiting.shift() as Batch;
      held -= oldest.spans.length;
      this.#droppedSpans += oldest.spans.length;
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
      void this.#send(this.#waiting.shift() as Batch);
    }
  }

  /** Sends one batch; resolves once it was delivered, or put back to wait after a failure. */
  #send(batch: Batch): Promise<void> {
    // In the map before the export starts: an exporter may answer synchronously.
    const { promise, resolve } = Promise.withResolvers<undefined>();
    this.#sending.set(batch, promise);
    this.#inner.export(batch.spans, (result) => {
      this.#sending.delete(batch);
      if (result.code === ExportResultCode.SUCCESS) {
        if (batch.failedAttempts > 0 || batch.heldBack) this.#retriedSpans += batch.spans.length;
        this.#failing = false;
        this.#backoff = this.#options.initialBackoffMillis;
      } else {
        batch.failedAttempts += 1;
        // Back to the front: the oldest spans go first, and are the first dropped if need be.
        this.#waiting.unshift(batch);
        this.#bound();
        this.#failed(result.error);
      }
      resolve(undefined);
      this.#pump();
    });
    return promise;
  }

  #failed(error: Error | undefined): void {
    const now = Date.now();
    if (now - this.#lastWarning >= this.#options.warnIntervalMillis) {
      this.#lastWarning = now;
      this.#options.warn('span export failed; keeping spans to retry', {
        error: error?.message ?? 'unknown',
        buffered_spans: this.#heldSpans(),
        dropped_spans: this.#droppedSpans,
      });
    }
    const delay = this.#failing ? Math.min(this.#backoff * 2, this.#options.maxBackoffMillis) : this.#backoff;
    this.#failing = true;
    this.#backoff = delay;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delay);
    // Pending retries never keep a process alive that is otherwise done.
    this.#timer.unref();
  }

  /**
   * One attempt to deliver everything held, without waiting for a backoff: every waiting batch
   * is sent now, and the flush resolves when each has been delivered or has failed once more.
   * Then the inner exporter's flush.
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
