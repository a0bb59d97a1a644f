/**
 * What this library's own aggregations (histograms.ts, forgettable.ts) share with each other and
 * with the SDK's: how a series is identified, the overflow series, and a delta reader's view of a
 * collection.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';

/** Where the series beyond the cardinality limit go, as in the SDK. */
export const overflowAttributes: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** The SDK's identity of an attribute set: keys sorted, so that key order does not make a second series. */
export function attributesKey(attributes: Attributes): string {
  return JSON.stringify(
    Object.keys(attributes)
      .sort()
      .map((key) => [key, attributes[key]]),
  );
}

/** A reader that asked for delta temporality. */
export interface DeltaReader {
  /** Its number among the delta readers, from 0. */
  readonly reader: number;
  /** When its previous collection ended; undefined before its first. */
  previousEnd: HrTime | undefined;
}

/** One collection by a delta reader. */
export interface DeltaCollection extends Readonly<DeltaReader> {
  /** How many delta readers there are. */
  readonly readers: number;
}

/** The later of two times; `b` may be unknown yet. */
export function later(a: HrTime, b: HrTime | undefined): HrTime {
  return b === undefined || a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1]) ? a : b;
}
