/**
 * The one table of loopback ports. Every config gets its ports from here: the collector and
 * Jaeger through environment variables (`${env:…}` in their YAML), Prometheus and Alertmanager
 * through placeholders that the runner renders (see render.ts).
 */
export const ports = {
  natsClient: 4222,
  natsMonitor: 8222,
  natsCluster: 6222,
  natsExporter: 7777,
  collectorOtlpGrpc: 4317,
  collectorOtlpHttp: 4318,
  collectorHealth: 13133,
  collectorMetrics: 8888,
  jaegerOtlpGrpc: 14317,
  jaegerOtlpHttp: 14318,
  jaegerQuery: 16686,
  jaegerQueryGrpc: 16685,
  jaegerHealth: 13134,
  jaegerMetrics: 8889,
  prometheus: 9090,
  victoriaLogs: 9428,
  alertmanager: 9093,
  api: 8000,
  worker: 8002,
  signalGenerator: 8003,
  triggerDispatcher: 8004,
  loadgen: 8005,
  notifier: 8006,
  grafana: 3000,
} as const;

export type PortName = keyof typeof ports;

export const LOOPBACK = '127.0.0.1';

/**
 * The port of the `index`-th (0-based) node or instance of a component whose first one has
 * `name`'s port. NATS nodes take the next ports (4222, 4223, 4224; 8222, 8223, …; 6222, …); the
 * extra instances of a service ten apart (worker 8002, 8012, 8022), so that they never meet the
 * services' own ports.
 */
export function instancePort(name: PortName, index: number): number {
  const step = name.startsWith('nats') ? 1 : 10;
  return ports[name] + step * index;
}

/** `collectorOtlpGrpc` → `COLLECTOR_OTLP_GRPC_PORT`: the variable name the configs use. */
export function portVariable(name: PortName): string {
  return `${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_PORT`;
}

/** Every port as an environment variable, for configs that read `${env:…}` or `${…}`. */
export function portEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [portVariable(name as PortName), String(port)]),
  );
}
