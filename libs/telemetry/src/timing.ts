/**
 * Duration and span helpers for business code (seed 003's decorators, seed 004's
 * track_duration): sync and async alike, success and error recorded apart.
 */
import { type Span, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { AttributeValue } from './catalog/instruments.ts';

interface DurationRecorder<A> {
  record(value: number, attributes?: A): void;
}

export interface TimedOptions<A> {
  /** Attributes recorded with every duration. */
  attributes?: A;
  /** The attribute that tells success from error; the metric must allow it. Default `status`. */
  statusAttribute?: string;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function measure<R, A>(recorder: DurationRecorder<A>, options: TimedOptions<A>, run: () => R): R {
  const startedAt = performance.now();
  const key = options.statusAttribute ?? 'status';
  const finish = (status: 'success' | 'error') => {
    recorder.record((performance.now() - startedAt) / 1000, { ...options.attributes, [key]: status } as A);
  };
  let result: R;
  try {
    result = run();
  } catch (error) {
    finish('error');
    throw error;
  }
  if (isPromiseLike(result)) {
    return result.then(
      (value) => {
        finish('success');
        return value;
      },
      (error: unknown) => {
        finish('error');
        throw error;
      },
    ) as R;
  }
  finish('success');
  return result;
}

/** Wraps a function so that each call records its duration in seconds, with status success or error. */
export function timed<Args extends unknown[], R, A extends Record<string, AttributeValue | undefined>>(
  recorder: DurationRecorder<A>,
  fn: (...args: Args) => R,
  options: TimedOptions<A> = {},
): (...args: Args) => R {
  return function timedCall(this: unknown, ...args: Args): R {
    return measure(recorder, options, () => fn.apply(this, args));
  };
}

/**
 * The same as a method decorator (TypeScript 5 standard decorators):
 *   @trackDuration(telemetry.metrics.strategyEvaluationDuration, { attributes: { strategy: 'sma' } })
 */
export function trackDuration<A extends Record<string, AttributeValue | undefined>>(
  recorder: DurationRecorder<A>,
  options: TimedOptions<A> = {},
) {
  return function decorate<This, Args extends unknown[], R>(
    method: (this: This, ...args: Args) => R,
    _context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => R {
    return function tracked(this: This, ...args: Args): R {
      return measure(recorder, options, () => method.apply(this, args));
    };
  };
}

/**
 * Runs `fn` inside a new active span: ends it when `fn` returns or settles, records an
 * exception and marks the span as error when it throws or rejects.
 */
export function withSpan<R>(
  tracer: Tracer,
  name: string,
  fn: (span: Span) => R,
  attributes?: Record<string, AttributeValue>,
): R {
  return tracer.startActiveSpan(name, attributes ? { attributes } : {}, (span) => {
    const fail = (error: unknown) => {
      if (error instanceof Error) span.recordException(error);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      span.end();
    };
    let result: R;
    try {
      result = fn(span);
    } catch (error) {
      fail(error);
      throw error;
    }
    if (isPromiseLike(result)) {
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          fail(error);
          throw error;
        },
      ) as R;
    }
    span.end();
    return result;
  });
}
