/**
 * Keeps spans that could not be exported and sends them again later, so that a collector
 * restart or a slow network loses nothing: the BatchSpanProcessor alone drops a batch whose
 * export failed. Memory stays bounded: past `maxBufferedSpans` the oldest batches are dropped
 * and counted. Requests never wait for any of this.
 */
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

export interface RetryingSpanExporterOptions {
  maxBufferedSpans: number;
  initialBackoffMillis?: number;
  maxBackoffMillis?: number;
  /** Called at most once per `warnIntervalMillis` while exports fail. */
  warn: (message: string, fields: Record<string, unknown>) => void;
  warnIntervalMillis?: number;
}

export interface RetryStats {
  bufferedSpans: number;
  droppedSpans: number;
  retriedSpans: number;
}

export class RetryingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #options: Required<RetryingSpanExporterOptions>;
  readonly #pending: ReadableSpan[][] = [];
  #bufferedSpans = 0;
  #droppedSpans = 0;
  #retriedSpans = 0;
  #backoff: number;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #lastWarning = 0;

  constructor(inner: SpanExporter, options: RetryingSpanExporterOptions) {
    this.#inner = inner;
    this.#options = {
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
    this.#inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) {
        this.#backoff = this.#options.initialBackoffMillis;
        if (this.#pending.length > 0) this.#schedule(0);
      } else {
        this.#keep(spans, result.error);
      }
      // The spans are ours now, delivered or buffered: the processor must not count a failure.
      resultCallback({ code: ExportResultCode.SUCCESS });
    });
  }

  #keep(spans: ReadableSpan[], error: Error | undefined): void {
    this.#pending.push(spans);
    this.#bufferedSpans += spans.length;
    while (this.#bufferedSpans > this.#options.maxBufferedSpans) {
      const oldest = this.#pending.shift() ?? [];
      this.#bufferedSpans -= oldest.length;
      this.#droppedSpans += oldest.length;
    }
    const now = Date.now();
    if (now - this.#lastWarning >= this.#options.warnIntervalMillis) {
      this.#lastWarning = now;
      this.#options.warn('span export failed; keeping spans to retry', {
        error: error?.message ?? 'unknown',
        buffered_spans: this.#bufferedSpans,
        dropped_spans: this.#droppedSpans,
      });
    }
    this.#schedule(this.#backoff);
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined || this.#draining !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, delay);
    // Pending retries never keep a process alive that is otherwise done.
    this.#timer.unref();
  }

  /** Sends buffered batches one at a time until one fails or none is left. */
  #drain(): Promise<void> {
    this.#draining ??= (async () => {
      while (this.#pending.length > 0) {
        const batch = this.#pending[0] ?? [];
        const result = await new Promise<ExportResult>((resolve) => this.#inner.export(batch, resolve));
        if (result.code !== ExportResultCode.SUCCESS) {
          this.#backoff = Math.min(this.#backoff * 2, this.#options.maxBackoffMillis);
          break;
        }
        if (this.#pending[0] === batch) {
          this.#pending.shift();
          this.#bufferedSpans -= batch.length;
          this.#retriedSpans += batch.length;
        }
        this.#backoff = this.#options.initialBackoffMillis;
      }
    })().finally(() => {
      this.#draining = undefined;
      if (this.#pending.length > 0) this.#schedule(this.#backoff);
    });
    return this.#draining;
  }

  /** One attempt to deliver what is buffered, then the inner exporter's own flush. */
  async forceFlush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length > 0) await this.#drain();
    await this.#inner.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#inner.shutdown();
  }
}
