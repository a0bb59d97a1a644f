/**
 * How a catalog metric is declared: once, with its name, kind, unit, description, the only
 * attributes it may carry, its bucket set and its cardinality limit. A catalog is a plain object
 * of such definitions that a service hands to initTelemetry(); its instruments come back typed.
 */

/**
 * Bucket sets that this library's own instrumentation uses, in seconds: a catalog names its own
 * for everything else.
 */
export const buckets = {
  /** 5 ms to 10 s: the boundaries the HTTP and messaging semantic conventions advise. */
  http: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  /** 0.5 ms to 10 s, finer at the fast end: in-process work such as handling a message. */
  fast: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const;

export type MetricKind = 'counter' | 'upDownCounter' | 'histogram' | 'gauge';

export interface MetricDefinition<Kind extends MetricKind = MetricKind, Attribute extends string = string> {
  /** OpenTelemetry name; Prometheus sees it with dots as underscores and the unit's suffix. */
  readonly name: string;
  readonly kind: Kind;
  /** UCUM unit: `s`, `By`, `1`; `{thing}` for counts and currencies (no Prometheus suffix). */
  readonly unit: string;
  readonly description: string;
  /** The only attribute keys recorded; others are a type error, and dropped at run time. */
  readonly attributes: readonly Attribute[];
  readonly buckets?: readonly number[];
  /** Series per metric before the SDK folds the rest into one overflow series. */
  readonly cardinalityLimit: number;
  /**
   * Per-entity values (a counter or gauge by pipeline, by bot) whose series the service drops
   * when the entity goes (`retain`), aggregated by this library since the SDK cannot forget a
   * series (see forgettable.ts).
   */
  readonly forgettable?: true;
}

type Spec<Attribute extends string> = {
  name: string;
  unit: string;
  description: string;
  attributes?: readonly Attribute[];
  cardinalityLimit?: number;
};

const defaultCardinalityLimit = 500;

function define<Kind extends MetricKind, const Attribute extends string = never>(
  kind: Kind,
  spec: Spec<Attribute>,
  histogramBuckets?: readonly number[],
): MetricDefinition<Kind, Attribute> {
  return {
    name: spec.name,
    kind,
    unit: spec.unit,
    description: spec.description,
    attributes: spec.attributes ?? [],
    ...(histogramBuckets ? { buckets: histogramBuckets } : {}),
    cardinalityLimit: spec.cardinalityLimit ?? defaultCardinalityLimit,
  };
}

export const counter = <const A extends string = never>(spec: Spec<A>) => define('counter', spec);
export const upDownCounter = <const A extends string = never>(spec: Spec<A>) => define('upDownCounter', spec);
export const gauge = <const A extends string = never>(spec: Spec<A>) => define('gauge', spec);
export const histogram = <const A extends string = never>(spec: Spec<A>, bucketSet: readonly number[]) =>
  define('histogram', spec, bucketSet);

/** A forgettable metric: its recorder has `retain`, which drops the series of entities that are gone. */
export type ForgettableDefinition<
  Kind extends 'counter' | 'gauge',
  Attribute extends string,
> = MetricDefinition<Kind, Attribute> & { readonly forgettable: true };

/** A counter per entity whose series go with the entity (see MetricDefinition.forgettable). */
export const forgettableCounter = <const A extends string = never>(
  spec: Spec<A>,
): ForgettableDefinition<'counter', A> => ({ ...define('counter', spec), forgettable: true });
/** A gauge per entity whose series go with the entity (see MetricDefinition.forgettable). */
export const forgettableGauge = <const A extends string = never>(
  spec: Spec<A>,
): ForgettableDefinition<'gauge', A> => ({ ...define('gauge', spec), forgettable: true });
