/** The variants of the HTTP overhead benchmark, and the environment each one runs with. */
export const variants = [
  'bare',
  'noop-middleware',
  'metrics-only',
  'traces-10pct',
  'traces-100pct',
  'hono-otel-metrics-only',
  'hono-otel-10pct',
  'hono-otel-100pct',
] as const;
export type Variant = (typeof variants)[number];

/** Each setting measured for this library and for @hono/otel, the common alternative. */
export const comparisons = [
  { setting: 'metrics only', ours: 'metrics-only', honoOtel: 'hono-otel-metrics-only' },
  { setting: '10% of traces sampled', ours: 'traces-10pct', honoOtel: 'hono-otel-10pct' },
  { setting: 'every trace sampled', ours: 'traces-100pct', honoOtel: 'hono-otel-100pct' },
] as const satisfies readonly { setting: string; ours: Variant; honoOtel: Variant }[];

export const variantEnv: Record<Variant, Record<string, string>> = {
  bare: {},
  'noop-middleware': {},
  'metrics-only': { OTEL_TRACES_EXPORTER: 'none' },
  'traces-10pct': { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'traces-100pct': { OTEL_TRACES_SAMPLER: 'always_on' },
  'hono-otel-metrics-only': { OTEL_TRACES_EXPORTER: 'none' },
  'hono-otel-10pct': { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'hono-otel-100pct': { OTEL_TRACES_SAMPLER: 'always_on' },
};
