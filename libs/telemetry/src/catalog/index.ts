export {
  buckets,
  counter,
  type ForgettableDefinition,
  forgettableCounter,
  forgettableGauge,
  gauge,
  histogram,
  type MetricDefinition,
  type MetricKind,
  upDownCounter,
} from './define.ts';
export {
  type AttributesOf,
  type CounterRecorder,
  type Forgetting,
  type GaugeRecorder,
  type HistogramRecorder,
  type Instruments,
  primeCounter,
} from './instruments.ts';
