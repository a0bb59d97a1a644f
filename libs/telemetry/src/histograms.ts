/**
 * Histograms that this library aggregates itself, for measurements taken on the hot path of
 * every request. The SDK's `histogram.record()` copies, sorts and JSON-encodes the attributes
 * to find its series on every call (about 3 µs inside a served request); here the caller looks
 * its series up once, keeps it, and a record is a few additions. At each collection the series
 * are handed to every metric reader next to the SDK's own metrics, under the same
 * instrumentation scope, as the SDK would have reported them: cumulative explicit-bucket
 * histograms, min and max included, bounded by the readers' cardinality limit.
 *
 * The OpenTelemetry API has no instrument for pre-aggregated data, so the data reaches the
 * readers through their MetricProducer, the SDK's documented seam for "aggregated metric data
 * in addition to the SDK's".
 */
import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { type InstrumentationScope, millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  AggregationType,
  type CollectionResult,
  type DataPoint,
  DataPointType,
  type Histogram,
  type HistogramMetricData,
  type IMetricReader,
  InstrumentType,
  type MetricCollectOptions,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';

export interface HistogramOptions {
  name: string;
  unit: string;
  description: string;
  /** Inclusive upper bounds of the buckets, ascending, as in the SDK's explicit-bucket histograms. */
  boundaries: readonly number[];
}

/** The SDK's default limit of series per instrument and reader. */
const defaultCardinalityLimit = 2_000;
const overflowAttributes: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** The SDK's identity of an attribute set: keys sorted, so that key order does not make a second series. */
function attributesKey(attributes: Attributes): string {
  return JSON.stringify(
    Object.keys(attributes)
      .sort()
      .map((key) => [key, attributes[key]]),
  );
}

/** One attribute set of one histogram: the object a hot path keeps and records into. */
export class HistogramSeries {
  readonly attributes: Attributes;
  readonly startTime: HrTime = millisToHrTime(Date.now());
  readonly #boundaries: readonly number[];
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(attributes: Attributes, boundaries: readonly number[]) {
    this.attributes = attributes;
    this.#boundaries = boundaries;
    this.#counts = new Float64Array(boundaries.length + 1);
  }

  record(value: number): void {
    // The SDK drops negative values (a histogram's sum must only grow) and ignores NaN.
    if (!(value >= 0)) return;
    // A linear scan: request durations fall into the first buckets, where it stops at once.
    let bucket = 0;
    for (const boundary of this.#boundaries) {
      if (value <= boundary) break;
      bucket += 1;
    }
    this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
    this.#count += 1;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  /** The point as the SDK reports it: copies, so that later records do not change an export in flight. */
  point(endTime: HrTime): DataPoint<Histogram> {
    return {
      attributes: this.attributes,
      startTime: this.startTime,
      endTime,
      value: {
        buckets: { boundaries: [...this.#boundaries], counts: Array.from(this.#counts) },
        count: this.#count,
        sum: this.#sum,
        min: this.#min,
        max: this.#max,
      },
    };
  }
}

/** One histogram: its series by attribute set, up to the cardinality limit. */
export class AggregatedHistogram {
  readonly #options: HistogramOptions;
  readonly #limit: () => number;
  readonly #series = new Map<string, HistogramSeries>();
  #overflow: HistogramSeries | undefined;

  constructor(options: HistogramOptions, limit: () => number) {
    this.#options = options;
    this.#limit = limit;
  }

  /**
   * The series of an attribute set, created on first use. Not for the hot path: keep what it
   * returns. Past the limit, new attribute sets share one `otel.metric.overflow` series, as
   * in the SDK (the limit counts that series too).
   */
  series(attributes: Attributes): HistogramSeries {
    const key = attributesKey(attributes);
    let series = this.#series.get(key);
    if (series === undefined) {
      if (this.#series.size >= this.#limit() - 1) {
        this.#overflow ??= new HistogramSeries(overflowAttributes, this.#options.boundaries);
        return this.#overflow;
      }
      series = new HistogramSeries(attributes, this.#options.boundaries);
      this.#series.set(key, series);
    }
    return series;
  }

  /** Undefined while nothing was recorded: the SDK reports no metric for an instrument without data. */
  metricData(endTime: HrTime): HistogramMetricData | undefined {
    const all = this.#overflow ? [...this.#series.values(), this.#overflow] : [...this.#series.values()];
    // A series can exist without data, e.g. request body sizes of requests that had no body.
    const dataPoints = all.filter((series) => series.count > 0).map((series) => series.point(endTime));
    if (dataPoints.length === 0) return undefined;
    const { name, unit, description } = this.#options;
    return {
      descriptor: { name, unit, description, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }
}

/**
 * The histograms of one instrumentation scope, created by initTelemetry and attached to each
 * of its metric readers. Cumulative only: a reader that asks for delta temporality or another
 * aggregation is refused at start-up rather than handed data it did not ask for.
 */
export class AggregatedHistograms {
  readonly #scope: InstrumentationScope;
  readonly #histograms = new Map<string, AggregatedHistogram>();
  #cardinalityLimit = defaultCardinalityLimit;

  constructor(scope: InstrumentationScope) {
    this.#scope = scope;
  }

  /** The histogram of that name: the same one for every caller, as a meter does for an instrument. */
  histogram(options: HistogramOptions): AggregatedHistogram {
    let histogram = this.#histograms.get(options.name);
    if (histogram === undefined) {
      histogram = new AggregatedHistogram(options, () => this.#cardinalityLimit);
      this.#histograms.set(options.name, histogram);
    }
    return histogram;
  }

  /**
   * The reader, to be given to the MeterProvider in its place: when the provider hands it the
   * SDK's producer, it gets one that adds these histograms to what the SDK collects. This works
   * for readers built elsewhere (tests pass theirs in), which the `metricProducers` option of a
   * reader's constructor cannot reach.
   */
  attach(reader: IMetricReader): IMetricReader {
    const temporality = reader.selectAggregationTemporality(InstrumentType.HISTOGRAM);
    const aggregation = reader.selectAggregation(InstrumentType.HISTOGRAM).type;
    if (temporality !== AggregationTemporality.CUMULATIVE || aggregation !== AggregationType.DEFAULT) {
      throw new Error(
        `${reader.constructor.name} asks for another temporality or aggregation than the cumulative, ` +
          'explicit-bucket histograms that @tradeobs/telemetry aggregates itself (the HTTP metrics)',
      );
    }
    // One aggregation serves every reader, so the strictest reader's limit applies to all.
    this.#cardinalityLimit = Math.min(
      this.#cardinalityLimit,
      reader.selectCardinalityLimit(InstrumentType.HISTOGRAM),
    );
    return {
      setMetricProducer: (sdk) => {
        reader.setMetricProducer({ collect: (options) => this.#collectWith(sdk, options) });
      },
      selectAggregation: (type) => reader.selectAggregation(type),
      selectAggregationTemporality: (type) => reader.selectAggregationTemporality(type),
      selectCardinalityLimit: (type) => reader.selectCardinalityLimit(type),
      collect: (options) => reader.collect(options),
      shutdown: (options) => reader.shutdown(options),
      forceFlush: (options) => reader.forceFlush(options),
    };
  }

  async #collectWith(sdk: MetricProducer, options?: MetricCollectOptions): Promise<CollectionResult> {
    const result = await sdk.collect(options);
    const endTime = millisToHrTime(Date.now());
    const ours = [...this.#histograms.values()].flatMap((histogram) => histogram.metricData(endTime) ?? []);
    if (ours.length === 0) return result;
    const { resource, scopeMetrics } = result.resourceMetrics;
    // Into the SDK's entry for the same scope if it has one: to an exporter, one scope, as before.
    const same = (s: ScopeMetrics) =>
      s.scope.name === this.#scope.name && s.scope.version === this.#scope.version;
    const merged = scopeMetrics.some(same)
      ? scopeMetrics.map((s) => (same(s) ? { scope: s.scope, metrics: [...s.metrics, ...ours] } : s))
      : [...scopeMetrics, { scope: this.#scope, metrics: ours }];
    return { resourceMetrics: { resource, scopeMetrics: merged }, errors: result.errors };
  }
}
