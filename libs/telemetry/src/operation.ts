/**
 * One way to instrument an operation: a span that is active while the work runs, its duration
 * and count with the outcome, and errors told apart by a classifier, so that an error which is
 * an answer (a compare-and-set that lost) does not show as a failure. It knows OpenTelemetry,
 * nothing of what the operation does.
 *
 *   const kvCalls = new Operation({ tracer, duration, count, outcomeAttribute: 'status', classify });
 *   await kvCalls.run('kv update bots', { kind: SpanKind.CLIENT, metricAttributes }, () => kv.update(...));
 */
import {
  type Attributes,
  type Context,
  context,
  type Span,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';

/** A histogram of seconds: an OpenTelemetry one or one of a catalog's. */
export interface DurationRecorder {
  record(seconds: number, attributes?: Attributes): void;
}

/** A counter of operations: an OpenTelemetry one or one of a catalog's. */
export interface CountRecorder {
  add(value: number, attributes?: Attributes): void;
}

/** How to record an error that is an expected answer rather than a failure. */
export interface ExpectedAnswer {
  /** The value of the outcome attribute, in place of `error`. */
  outcome: string;
  /** Set on the span, whose status stays unset. */
  spanAttributes?: Attributes;
}

/** Says which errors are expected answers; undefined means a failure. */
export type ErrorClassifier = (error: unknown) => ExpectedAnswer | undefined;

/** Where one kind of operation records, fixed once so that each call passes only what varies. */
export interface OperationInstruments {
  tracer: Tracer;
  duration?: DurationRecorder | undefined;
  count?: CountRecorder | undefined;
  /**
   * The metric attribute that holds the outcome: `error` for a failure, the classifier's outcome
   * for an expected error. On success it keeps the value the caller put in `metricAttributes`,
   * because what counts as success can depend on the answer (an HTTP status, say).
   */
  outcomeAttribute?: string | undefined;
  /** Without one, every error is a failure. */
  classify?: ErrorClassifier | undefined;
}

/** The span's options and what the call needs besides them: one object per call, as span options are. */
export interface OperationOptions extends SpanOptions {
  /** The context the span starts from and the work runs in; the active one by default. */
  parent?: Context | undefined;
  /**
   * Recorded with the duration and count, and read only when the operation settles: the work may
   * still change them. The outcome and `error.type` are written into this object, so it must not
   * be shared between calls.
   */
  metricAttributes?: Attributes | undefined;
}

// The SDK copies a status it is given, so one object serves every failure.
const failed: SpanStatus = { code: SpanStatusCode.ERROR };

function errorType(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

export class Operation {
  readonly #tracer: Tracer;
  readonly #duration: DurationRecorder | undefined;
  readonly #count: CountRecorder | undefined;
  readonly #outcomeAttribute: string | undefined;
  readonly #classify: ErrorClassifier | undefined;

  constructor(instruments: OperationInstruments) {
    this.#tracer = instruments.tracer;
    this.#duration = instruments.duration;
    this.#count = instruments.count;
    this.#outcomeAttribute = instruments.outcomeAttribute;
    this.#classify = instruments.classify;
  }

  /**
   * Runs `work` inside a new span, active while it runs, and records the operation when it
   * settles; an error is recorded as the classifier says, then rethrown. `work` may be
   * synchronous, but the result is always a promise: every caller awaits I/O anyway, and a
   * single path keeps the hot messaging path as cheap as a hand-written try/finally.
   */
  async run<R>(
    name: string,
    options: OperationOptions,
    work: (span: Span) => R | PromiseLike<R>,
  ): Promise<R> {
    const parent = options.parent ?? context.active();
    const span = this.#tracer.startSpan(name, options, parent);
    let metricAttributes = options.metricAttributes;
    const startedAt = performance.now();
    try {
      // The span as an argument rather than in a closure: no allocation on top of the caller's.
      return await context.with(trace.setSpan(parent, span), work, undefined, span);
    } catch (error) {
      metricAttributes = this.#recordError(span, error, metricAttributes);
      throw error;
    } finally {
      span.end();
      this.#count?.add(1, metricAttributes);
      this.#duration?.record((performance.now() - startedAt) / 1000, metricAttributes);
    }
  }

  /** Records `error` on the span and in the metric attributes, which it returns. */
  #recordError(span: Span, error: unknown, metricAttributes: Attributes = {}): Attributes {
    const expected = this.#classify?.(error);
    if (expected) {
      if (expected.spanAttributes) span.setAttributes(expected.spanAttributes);
      if (this.#outcomeAttribute) metricAttributes[this.#outcomeAttribute] = expected.outcome;
      return metricAttributes;
    }
    const type = errorType(error);
    if (error instanceof Error) span.recordException(error);
    span.setStatus(failed);
    span.setAttribute('error.type', type);
    metricAttributes['error.type'] = type;
    if (this.#outcomeAttribute) metricAttributes[this.#outcomeAttribute] = 'error';
    return metricAttributes;
  }
}
