/** The variants of the HTTP overhead benchmark, and the environment each one runs with. */
export const variants = [
  'bare',
  'noop-middleware',
  'metrics-only',
  'traces-10pct',
  'traces-100pct',
  'hono-otel-100pct',
] as const;
export type Variant = (typeof variants)[number];

export const variantEnv: Record<Variant, Record<string, string>> = {
  bare: {},
  'noop-middleware': {},
  'metrics-only': { OTEL_TRACES_EXPORTER: 'none' },
  'traces-10pct': { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'traces-100pct': { OTEL_TRACES_SAMPLER: 'always_on' },
  'hono-otel-100pct': { OTEL_TRACES_SAMPLER: 'always_on' },
};
