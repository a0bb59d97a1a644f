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
  readonly #sending = new Set<Batch>();
  #bufferedSpans = 0;
  #droppedSpans = 0;
  #retriedSpans = 0;
  #failing = false;
  #backoff: number;
  #timer: NodeJS.Timeout | undefined;
  #lastWarning = 0;
  /** Resolved whenever a send finishes, for forceFlush to wait on. */
  #settled: (() => void)[] = [];

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
      bufferedSpans: this.#bufferedSpans,
      droppedSpans: this.#droppedSpans,
      retriedSpans: this.#retriedSpans,
    };
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#waiting.push({ spans, failedAttempts: 0, heldBack: this.#failing });
    this.#bufferedSpans += spans.length;
    this.#bound();
    this.#pump();
    // The spans are ours now: the processor can go on batching at once.
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  /** Drops the oldest waiting batches while more than the limit are held. */
  #bound(): void {
    while (this.#bufferedSpans > this.#options.maxBufferedSpans && this.#waiting.length > 0) {
      const oldest = this.#waiting.shift() as Batch;
      this.#bufferedSpans -= oldest.spans.length;
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
      this.#send(this.#waiting.shift() as Batch);
    }
  }

  #send(batch: Batch): void {
    this.#sending.add(batch);
    this.#inner.export(batch.spans, (result) => {
      this.#sending.delete(batch);
      if (result.code === ExportResultCode.SUCCESS) {
        this.#bufferedSpans -= batch.spans.length;
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
      for (const settled of this.#settled.splice(0)) settled();
      this.#pump();
    });
  }

  #failed(error: Error | undefined): void {
    const now = Date.now();
    if (now - this.#lastWarning >= this.#options.warnIntervalMillis) {
      this.#lastWarning = now;
      this.#options.warn('span export failed; keeping spans to retry', {
        error: error?.message ?? 'unknown',
        buffered_spans: this.#bufferedSpans,
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
   * One attempt to deliver everything held, without waiting for a backoff: resolves when
   * each batch has been delivered or has failed once more. Then the inner exporter's flush.
   */
  async forceFlush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const attempts = new Map([...this.#waiting, ...this.#sending].map((b) => [b, b.failedAttempts]));
    const tried = (batch: Batch) => batch.failedAttempts > (attempts.get(batch) ?? 0);
    for (;;) {
      // Every batch held when the flush began is sent now, backoff or not, until it was
      // delivered or failed once more.
      while (this.#sending.size < this.#options.maxConcurrentExports) {
        // Looked up each time: a send that finishes at once may start the next one itself.
        const next = this.#waiting.findIndex((b) => attempts.has(b) && !tried(b));
        if (next < 0) break;
        this.#send(this.#waiting.splice(next, 1)[0] as Batch);
      }
      // Batches taken after the flush began are not waited for: under load there always are some.
      const inFlight = [...this.#sending].some((b) => attempts.has(b));
      const untried = this.#waiting.some((b) => attempts.has(b) && !tried(b));
      if (!inFlight && !untried) break;
      if (this.#sending.size > 0) await new Promise<void>((resolve) => this.#settled.push(resolve));
    }
    await this.#inner.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#inner.shutdown();
  }
}
