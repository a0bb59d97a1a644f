export {
  buckets,
  counter,
  gauge,
  histogram,
  type MetricDefinition,
  type MetricKind,
  upDownCounter,
} from './define.ts';
export {
  type AttributesOf,
  catalogViews,
  type CounterRecorder,
  createInstruments,
  type GaugeRecorder,
  type HistogramRecorder,
  type Instruments,
  primeCounter,
} from './instruments.ts';
export { type Catalog, catalog } from './metrics.ts';
