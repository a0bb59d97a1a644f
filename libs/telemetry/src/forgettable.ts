/**
 * Counters and gauges whose series can be dropped: values per entity (a pipeline, a bot) that
 * should leave the export when the entity goes, so that churn does not grow the series a
 * backend keeps (and bills) without bound. The SDK cannot do this. A synchronous instrument
 * exports every attribute set it has seen until the process ends, and the JavaScript SDK's
 * asynchronous instruments keep exporting a set after the callback stops observing it
 * (sdk-metrics 3.1; opentelemetry-js issue #4096, where the specification says SHOULD NOT).
 * So these are aggregated here, a Map per metric, and reach the metric readers with this
 * library's histograms (histograms.ts), through the readers' MetricProducer.
 *
 * Not for the hot path of every request: finding a series costs a key built from the
 * attributes (about 1 µs); the per-entity values this is for change once per execution or
 * trade, not per request.
 */
import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type GaugeMetricData,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { attributesKey, type DeltaCollection, later, overflowAttributes } from './aggregation.ts';

export interface ForgettableOptions {
  name: string;
  unit: string;
  description: string;
  /** `counter`: a monotonic sum, negative additions ignored; `gauge`: the last value recorded. */
  kind: 'counter' | 'gauge';
  /** The only attribute keys kept, as the catalog's views do for the SDK's instruments. */
  attributes: readonly string[];
  /** Series before the rest share one `otel.metric.overflow` series, as in the SDK. */
  cardinalityLimit: number;
}

interface Series {
  readonly attributes: Attributes;
  readonly startTime: HrTime;
  value: number;
  /** Whether anything was recorded since each delta reader's previous collection, by its number. */
  readonly unreported: boolean[];
  /** The cumulative value each delta reader last collected, by its number. */
  readonly reported: number[];
}

/** One counter or gauge whose series the caller can drop. */
export class ForgettableMetric {
  readonly #options: ForgettableOptions;
  readonly #series = new Map<string, Series>();

  constructor(options: ForgettableOptions) {
    this.#options = options;
  }

  add(value: number, attributes: Attributes = {}): void {
    // As the SDK's counters: a negative addition or NaN is dropped.
    if (!(value >= 0)) return;
    this.#update(attributes, (series) => (series.value += value));
  }

  record(value: number, attributes: Attributes = {}): void {
    if (Number.isNaN(value)) return;
    this.#update(attributes, (series) => (series.value = value));
  }

  /**
   * Keeps the series whose attributes `keep` accepts and drops the others: they are not exported
   * again, and if one comes back it starts from zero with a new start time (which Prometheus
   * reads as a counter reset).
   */
  retain(keep: (attributes: Attributes) => boolean): void {
    for (const [key, series] of this.#series) {
      if (series.attributes !== overflowAttributes && !keep(series.attributes)) this.#series.delete(key);
    }
  }

  /** Cumulative, or what changed since a delta reader's previous collection; undefined without points. */
  metricData(endTime: HrTime, delta?: DeltaCollection): SumMetricData | GaugeMetricData | undefined {
    const dataPoints: DataPoint<number>[] = [];
    for (const series of this.#series.values()) {
      const point =
        delta === undefined ? this.#point(series, endTime) : this.#deltaPoint(series, endTime, delta);
      if (point !== undefined) dataPoints.push(point);
    }
    if (dataPoints.length === 0) return undefined;
    const { name, unit, description, kind } = this.#options;
    const base = {
      descriptor: { name, unit, description, valueType: ValueType.DOUBLE },
      aggregationTemporality:
        delta === undefined ? AggregationTemporality.CUMULATIVE : AggregationTemporality.DELTA,
      dataPoints,
    };
    return kind === 'counter'
      ? { ...base, dataPointType: DataPointType.SUM, isMonotonic: true }
      : { ...base, dataPointType: DataPointType.GAUGE };
  }

  #point(series: Series, endTime: HrTime): DataPoint<number> {
    return { attributes: series.attributes, startTime: series.startTime, endTime, value: series.value };
  }

  /**
   * A counter's increase since the reader's previous collection, a gauge's last value; nothing
   * for a series without a measurement since, as the SDK does for delta readers.
   */
  #deltaPoint(series: Series, endTime: HrTime, delta: DeltaCollection): DataPoint<number> | undefined {
    if (series.unreported[delta.reader] === false) return undefined;
    series.unreported[delta.reader] = false;
    const startTime = later(series.startTime, delta.previousEnd);
    if (this.#options.kind === 'gauge')
      return { attributes: series.attributes, startTime, endTime, value: series.value };
    const value = series.value - (series.reported[delta.reader] ?? 0);
    series.reported[delta.reader] = series.value;
    return { attributes: series.attributes, startTime, endTime, value };
  }

  #update(attributes: Attributes, change: (series: Series) => void): void {
    const kept: Attributes = {};
    for (const key of this.#options.attributes)
      if (attributes[key] !== undefined) kept[key] = attributes[key];
    const key = attributesKey(kept);
    let series = this.#series.get(key);
    if (series === undefined) {
      // The limit counts the overflow series too, as the SDK's does.
      const full = this.#series.size >= this.#options.cardinalityLimit - 1;
      const overflowKey = attributesKey(overflowAttributes);
      series = full ? this.#series.get(overflowKey) : undefined;
      if (series === undefined) {
        series = {
          attributes: full ? overflowAttributes : Object.freeze(kept),
          startTime: millisToHrTime(Date.now()),
          value: 0,
          unreported: [],
          reported: [],
        };
        this.#series.set(full ? overflowKey : key, series);
      }
    }
    change(series);
    // Every delta reader has it to report again (one that never collected it reports it anyway).
    series.unreported.fill(true);
  }
}
