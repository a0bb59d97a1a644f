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
  'hono-prometheus',
] as const;
export type Variant = (typeof variants)[number];

/**
 * The variants that send nothing to the collector: a run of only these needs no pipeline.
 * @hono/prometheus keeps its metrics in the process until run.ts scrapes its /metrics.
 */
export const standalone: readonly Variant[] = ['bare', 'noop-middleware', 'hono-prometheus'];

/** The variant whose /metrics run.ts scrapes, as Prometheus would. */
export const scraped: readonly Variant[] = ['hono-prometheus'];

/** Each setting measured for this library and for a common alternative. */
export const comparisons = [
  {
    setting: 'metrics only',
    ours: 'metrics-only',
    alternative: '@hono/otel',
    theirs: 'hono-otel-metrics-only',
  },
  {
    setting: 'metrics only',
    ours: 'metrics-only',
    alternative: '@hono/prometheus',
    theirs: 'hono-prometheus',
  },
  {
    setting: '10% of traces sampled',
    ours: 'traces-10pct',
    alternative: '@hono/otel',
    theirs: 'hono-otel-10pct',
  },
  {
    setting: 'every trace sampled',
    ours: 'traces-100pct',
    alternative: '@hono/otel',
    theirs: 'hono-otel-100pct',
  },
] as const satisfies readonly { setting: string; ours: Variant; alternative: string; theirs: Variant }[];

export const variantEnv: Record<Variant, Record<string, string>> = {
  bare: {},
  'noop-middleware': {},
  'metrics-only': { OTEL_TRACES_EXPORTER: 'none' },
  'traces-10pct': { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'traces-100pct': { OTEL_TRACES_SAMPLER: 'always_on' },
  'hono-otel-metrics-only': { OTEL_TRACES_EXPORTER: 'none' },
  'hono-otel-10pct': { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'hono-otel-100pct': { OTEL_TRACES_SAMPLER: 'always_on' },
  // No OpenTelemetry in this process at all: the OTEL_* environment goes unread.
  'hono-prometheus': {},
};
