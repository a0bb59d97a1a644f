/**
 * Histograms that this library aggregates itself, for measurements taken on the hot path of
 * every request. The SDK's `histogram.record()` copies, sorts and JSON-encodes the attributes
 * to find its series on every call (about 3 µs inside a served request); here the caller looks
 * its series up once, keeps it, and a record is a few additions. At each collection the series
 * are handed to every metric reader next to the SDK's own metrics, under the same
 * instrumentation scope, as the SDK would have reported them: explicit-bucket histograms, min
 * and max included, bounded by the readers' cardinality limit, cumulative or delta as each
 * reader asks (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta and lowmemory both mean
 * delta for synchronous histograms).
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
  type MetricData,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  attributesKey,
  type DeltaCollection,
  type DeltaReader,
  later,
  overflowAttributes,
} from './aggregation.ts';
import { ForgettableMetric, type ForgettableOptions } from './forgettable.ts';

export interface HistogramOptions {
  name: string;
  unit: string;
  description: string;
  /** Inclusive upper bounds of the buckets, ascending, as in the SDK's explicit-bucket histograms. */
  boundaries: readonly number[];
}

/** The SDK's default limit of series per instrument and reader. */
const defaultCardinalityLimit = 2_000;

/**
 * Bucket counts, count, sum, min and max of some measurements of one series, off the hot path:
 * what the series settled at earlier delta collections, or what one delta reader has not yet
 * collected.
 */
class Totals {
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(buckets: number) {
    this.counts = new Float64Array(buckets);
  }

  copy(): Totals {
    const copy = new Totals(this.counts.length);
    copy.add(this.counts, this.count, this.sum, this.min, this.max);
    return copy;
  }

  add(counts: Float64Array, count: number, sum: number, min: number, max: number): void {
    counts.forEach((n, bucket) => {
      this.counts[bucket] = (this.counts[bucket] ?? 0) + n;
    });
    this.count += count;
    this.sum += sum;
    this.min = Math.min(this.min, min);
    this.max = Math.max(this.max, max);
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

/** One attribute set of one histogram: the object a hot path keeps and records into. */
export class HistogramSeries {
  readonly attributes: Attributes;
  readonly startTime: HrTime = millisToHrTime(Date.now());
  readonly #boundaries: readonly number[];
  // The hot fields: what was recorded since the last collection by a delta reader, or since the
  // start while there is none. Delta readers need min and max of their own interval, which a
  // difference of running totals cannot give; so each delta collection moves these into
  // #settled and into every delta reader's #pending, and they start again from zero. The
  // record stays the same few additions, unchanged when no reader asks for delta, and a delta
  // point's sum adds up the values of its interval as the SDK's does (bit for bit with one
  // delta reader), rather than subtracting growing totals, which loses precision over time.
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;
  /** What earlier delta collections took out of the hot fields; undefined until the first. */
  #settled: Totals | undefined;
  /** What each delta reader has not collected yet, by its number, up to the last settling. */
  readonly #pending: Totals[] = [];

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

  /** Measurements since the start. */
  get count(): number {
    return (this.#settled?.count ?? 0) + this.#count;
  }

  /** The cumulative point: copies, so that later records do not change an export in flight. */
  point(endTime: HrTime): DataPoint<Histogram> {
    const settled = this.#settled;
    return this.#toPoint(this.startTime, endTime, {
      counts: settled
        ? Array.from(this.#counts, (n, i) => n + (settled.counts[i] ?? 0))
        : Array.from(this.#counts),
      count: this.count,
      sum: settled ? settled.sum + this.#sum : this.#sum,
      min: settled ? Math.min(settled.min, this.#min) : this.#min,
      max: settled ? Math.max(settled.max, this.#max) : this.#max,
    });
  }

  /**
   * The point of one delta reader's collection: what was recorded since its previous one, or
   * undefined if nothing was, since the SDK then reports no point for the series either. It
   * starts where the reader's previous collection ended, as the SDK's do for a series that it
   * reported then, or where the series started if that is later. (For a series that had no
   * point in the previous collection, the SDK starts at the series' first measurement since,
   * which only the hot path could note, with a clock read; the start here is earlier, never
   * overlapping the previous point.)
   */
  deltaPoint(collection: DeltaCollection, endTime: HrTime): DataPoint<Histogram> | undefined {
    this.#settle(collection.readers);
    const pending = this.#pending[collection.reader];
    if (pending === undefined || pending.count === 0) return undefined;
    const point = this.#toPoint(later(this.startTime, collection.previousEnd), endTime, {
      counts: Array.from(pending.counts),
      count: pending.count,
      sum: pending.sum,
      min: pending.min,
      max: pending.max,
    });
    pending.clear();
    return point;
  }

  /** Moves the hot fields into the settled totals and into what every delta reader has pending. */
  #settle(readers: number): void {
    const settled = (this.#settled ??= new Totals(this.#counts.length));
    for (let reader = 0; reader < readers; reader += 1) {
      // A reader that has not met this series yet (one attached late) has all of it to collect.
      const pending = (this.#pending[reader] ??= settled.copy());
      pending.add(this.#counts, this.#count, this.#sum, this.#min, this.#max);
    }
    settled.add(this.#counts, this.#count, this.#sum, this.#min, this.#max);
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
  }

  #toPoint(
    startTime: HrTime,
    endTime: HrTime,
    value: { counts: number[]; count: number; sum: number; min: number; max: number },
  ): DataPoint<Histogram> {
    const { counts, count, sum, min, max } = value;
    return {
      attributes: this.attributes,
      startTime,
      endTime,
      value: { buckets: { boundaries: [...this.#boundaries], counts }, count, sum, min, max },
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
   * in the SDK (the limit counts that series too). The series an attribute set gets is for
   * good, for delta readers too: the hot path holds it. (The SDK starts counting again after
   * each delta collection, which the specification allows but does not require.)
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

  /**
   * Cumulative, or for a delta reader's collection, delta. Undefined without data points: the
   * SDK reports no metric for an instrument without data, nor, for delta, for one without
   * measurements since the reader's previous collection.
   */
  metricData(endTime: HrTime, delta?: DeltaCollection): HistogramMetricData | undefined {
    const all = this.#overflow ? [...this.#series.values(), this.#overflow] : [...this.#series.values()];
    const dataPoints =
      delta === undefined
        ? // A series can exist without data, e.g. request body sizes of requests that had no body.
          all.filter((series) => series.count > 0).map((series) => series.point(endTime))
        : all.flatMap((series) => series.deltaPoint(delta, endTime) ?? []);
    if (dataPoints.length === 0) return undefined;
    const { name, unit, description } = this.#options;
    return {
      descriptor: { name, unit, description, valueType: ValueType.DOUBLE },
      aggregationTemporality:
        delta === undefined ? AggregationTemporality.CUMULATIVE : AggregationTemporality.DELTA,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }
}

/**
 * The histograms of one instrumentation scope, and its forgettable counters and gauges, created
 * by initTelemetry and attached to each of its metric readers. Each reader gets the temporality it asks for; a reader that asks for
 * another aggregation than explicit buckets is refused at start-up rather than handed data it
 * did not ask for.
 */
export class AggregatedHistograms {
  readonly #scope: InstrumentationScope;
  readonly #histograms = new Map<string, AggregatedHistogram>();
  readonly #forgettable = new Map<string, ForgettableMetric>();
  #cardinalityLimit = defaultCardinalityLimit;
  #deltaReaders = 0;

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
   * The counter or gauge of that name whose series can be dropped (forgettable.ts): reported
   * with the histograms, through the same readers, under the same scope.
   */
  forgettable(options: ForgettableOptions): ForgettableMetric {
    let metric = this.#forgettable.get(options.name);
    if (metric === undefined) {
      metric = new ForgettableMetric(options);
      this.#forgettable.set(options.name, metric);
    }
    return metric;
  }

  /**
   * The reader, to be given to the MeterProvider in its place: when the provider hands it the
   * SDK's producer, it gets one that adds these histograms to what the SDK collects. This works
   * for readers built elsewhere (tests pass theirs in), which the `metricProducers` option of a
   * reader's constructor cannot reach.
   */
  attach(reader: IMetricReader): IMetricReader {
    const aggregation = reader.selectAggregation(InstrumentType.HISTOGRAM).type;
    if (aggregation !== AggregationType.DEFAULT) {
      throw new Error(
        `${reader.constructor.name} asks for the ${AggregationType[aggregation]} aggregation of histograms, ` +
          'but the histograms that @tradeobs/telemetry aggregates itself (the HTTP metrics) are only ' +
          'available as the default aggregation: explicit buckets with their own boundaries, ' +
          'cumulative or delta',
      );
    }
    // Asked once, as the SDK does: it keeps a reader's first answer for the reader's lifetime.
    const delta: DeltaReader | undefined =
      reader.selectAggregationTemporality(InstrumentType.HISTOGRAM) === AggregationTemporality.DELTA
        ? { reader: this.#deltaReaders++, previousEnd: undefined }
        : undefined;
    // One aggregation serves every reader, so the strictest reader's limit applies to all.
    this.#cardinalityLimit = Math.min(
      this.#cardinalityLimit,
      reader.selectCardinalityLimit(InstrumentType.HISTOGRAM),
    );
    return {
      setMetricProducer: (sdk) => {
        reader.setMetricProducer({ collect: (options) => this.#collectWith(sdk, options, delta) });
      },
      selectAggregation: (type) => reader.selectAggregation(type),
      selectAggregationTemporality: (type) => reader.selectAggregationTemporality(type),
      selectCardinalityLimit: (type) => reader.selectCardinalityLimit(type),
      collect: (options) => reader.collect(options),
      shutdown: (options) => reader.shutdown(options),
      forceFlush: (options) => reader.forceFlush(options),
    };
  }

  async #collectWith(
    sdk: MetricProducer,
    options: MetricCollectOptions | undefined,
    delta: DeltaReader | undefined,
  ): Promise<CollectionResult> {
    const result = await sdk.collect(options);
    // From here on synchronous: no record, and no other reader's collection, falls in between.
    const endTime = millisToHrTime(Date.now());
    const collection = delta && { ...delta, readers: this.#deltaReaders };
    const ours: MetricData[] = [...this.#histograms.values(), ...this.#forgettable.values()].flatMap(
      (metric) => metric.metricData(endTime, collection) ?? [],
    );
    if (delta) delta.previousEnd = endTime;
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
