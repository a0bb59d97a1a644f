/**
 * How a catalog metric is declared: once, with its name, kind, unit, description, the only
 * attributes it may carry, its bucket set and its cardinality limit.
 */

/** Histogram bucket sets by kind of operation, in seconds unless named otherwise (seed 003). */
export const buckets = {
  /** 5 ms to 10 s: the HTTP semantic conventions' boundaries. */
  http: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  /** 1 ms to 10 s. */
  database: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10],
  /** 100 ms to 60 s. */
  dataCollection: [0.1, 0.5, 1, 5, 10, 30, 60],
  /** 10 ms to 5 s. */
  mlPrediction: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5],
  /** 10 s to 30 min. */
  mlTraining: [10, 30, 60, 300, 600, 1200, 1800],
  /** 1 ms to 10 s, finer at the fast end: in-process work such as signal generation. */
  fast: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  /** Market data lag: 10 ms to 60 s. */
  lag: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  /** Counts of items per batch. */
  batchSize: [1, 2, 5, 10, 20, 50, 100, 200, 500],
  /** Fractions from 0 to 1 (confidence, ratios). */
  fraction: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  /** Slippage in basis points. */
  basisPoints: [0.5, 1, 2, 5, 10, 20, 50, 100, 200],
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
