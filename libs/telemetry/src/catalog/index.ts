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
  type CounterRecorder,
  type GaugeRecorder,
  type HistogramRecorder,
  type Instruments,
  primeCounter,
} from './instruments.ts';
