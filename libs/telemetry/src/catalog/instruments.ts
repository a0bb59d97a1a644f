/**
 * Turns catalog definitions into instruments whose attribute keys are checked by the type
 * system, and into SDK views that enforce the same allow-list, buckets and cardinality limit
 * at run time (for attributes that arrive in a variable rather than a literal).
 */
import type { Meter } from '@opentelemetry/api';
import {
  AggregationType,
  createAllowListAttributesProcessor,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import type { AggregatedHistograms } from '../histograms.ts';
import type { MetricDefinition, MetricKind } from './define.ts';

export type AttributeValue = string | number | boolean;
export type AttributesOf<D> =
  D extends MetricDefinition<MetricKind, infer A> ? Partial<Record<A, AttributeValue>> : never;

export interface CounterRecorder<D> {
  add(value: number, attributes?: AttributesOf<D>): void;
}
export interface HistogramRecorder<D> {
  record(value: number, attributes?: AttributesOf<D>): void;
}
/** A gauge holds the last value recorded for each attribute set. */
export interface GaugeRecorder<D> {
  record(value: number, attributes?: AttributesOf<D>): void;
}

/** A per-entity recorder that can drop the series of entities that are gone. */
export interface Forgetting<D> {
  /** Keeps the series whose attributes `keep` accepts; the others are no longer exported. */
  retain(keep: (attributes: AttributesOf<D>) => boolean): void;
}

export type RecorderOf<D> = D extends { readonly forgettable: true }
  ? (D extends MetricDefinition<'counter'> ? CounterRecorder<D> : GaugeRecorder<D>) & Forgetting<D>
  : D extends MetricDefinition<'counter' | 'upDownCounter'>
    ? CounterRecorder<D>
    : D extends MetricDefinition<'histogram'>
      ? HistogramRecorder<D>
      : GaugeRecorder<D>;

export type Instruments<C extends Record<string, MetricDefinition>> = {
  readonly [K in keyof C]: RecorderOf<C[K]>;
};

function instrumentFor(
  meter: Meter,
  definition: MetricDefinition,
): CounterRecorder<never> | HistogramRecorder<never> {
  const options = { unit: definition.unit, description: definition.description };
  switch (definition.kind) {
    case 'counter':
      return meter.createCounter(definition.name, options);
    case 'upDownCounter':
      return meter.createUpDownCounter(definition.name, options);
    case 'histogram':
      return meter.createHistogram(definition.name, {
        ...options,
        advice: { explicitBucketBoundaries: [...(definition.buckets ?? [])] },
      });
    case 'gauge':
      return meter.createGauge(definition.name, options);
  }
}

/**
 * One instrument per catalog entry, created up front so every series exists from start-up; the
 * forgettable ones from `aggregated`, which reports them with this library's histograms.
 */
export function createInstruments<C extends Record<string, MetricDefinition>>(
  meter: Meter,
  catalog: C,
  aggregated: AggregatedHistograms,
): Instruments<C> {
  const instruments: Record<string, unknown> = {};
  for (const [key, definition] of Object.entries(catalog)) {
    instruments[key] =
      definition.forgettable && (definition.kind === 'counter' || definition.kind === 'gauge')
        ? aggregated.forgettable({ ...definition, kind: definition.kind })
        : instrumentFor(meter, definition);
  }
  return instruments as Instruments<C>;
}

/**
 * Views that drop attributes outside each metric's allow-list and bound its series count. They
 * select by meter as well as by name: another library's instrument that happens to share a
 * name (`errors`, `batch.size`) keeps its own attributes and buckets.
 */
export function catalogViews(catalog: Record<string, MetricDefinition>, meterName: string): ViewOptions[] {
  // The forgettable ones are not the SDK's: they apply their allow-list and limit themselves.
  return Object.values(catalog)
    .filter((definition) => !definition.forgettable)
    .map((definition) => ({
      instrumentName: definition.name,
      meterName,
      attributesProcessors: [createAllowListAttributesProcessor([...definition.attributes])],
      aggregationCardinalityLimit: definition.cardinalityLimit,
      ...(definition.buckets
        ? {
            aggregation: {
              type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
              options: { boundaries: [...definition.buckets] },
            },
          }
        : {}),
    }));
}

/**
 * Records 0 for every combination of the given attribute values, so that a counter's series
 * exist from start-up rather than from its first event: `rate()` and alerts see a real 0, and
 * dashboards show "0", not "No data".
 */
export function primeCounter<D>(
  counter: CounterRecorder<D>,
  dimensions: { readonly [K in keyof AttributesOf<D>]?: readonly AttributeValue[] },
): void {
  let combinations: Record<string, AttributeValue>[] = [{}];
  for (const [key, values] of Object.entries(dimensions) as [string, readonly AttributeValue[]][]) {
    combinations = combinations.flatMap((partial) => values.map((value) => ({ ...partial, [key]: value })));
  }
  for (const attributes of combinations) counter.add(0, attributes as AttributesOf<D>);
}
