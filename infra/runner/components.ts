/**
 * What the local stack runs: one entry per component, with its ports, health check and
 * command line. The start order is the order of `waves`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Binaries } from './install.ts';
import { repoRoot, sourceCondition, statePaths } from './paths.ts';
import { LOOPBACK, type PortName, portEnvironment, ports } from './ports.ts';
import { renderDirectory, renderFile } from './render.ts';
import type { StackSettings } from './settings.ts';

export type ComponentName =
  | 'nats'
  | 'prometheus'
  | 'alertmanager'
  | 'jaeger'
  | 'victorialogs'
  | 'collector'
  | 'api'
  | 'worker'
  | 'signal-generator'
  | 'trigger-dispatcher'
  | 'loadgen'
  | 'notifier';

export interface Launch {
  command: string;
  args: string[];
  /** Variables for this component only, on top of the shared stack environment. */
  env?: Record<string, string>;
}

export interface Component {
  name: ComponentName;
  title: string;
  ports: readonly PortName[];
  /** What to show a person: labelled addresses. */
  links: readonly (readonly [label: string, url: string])[];
  healthUrl: string;
  /** Prometheus may replay a large WAL at start; the others are up in about a second. */
  startTimeoutMs: number;
  /** Renders configs, creates data directories and returns the command line. */
  prepare(binaries: Binaries, environment: Record<string, string>): Promise<Launch>;
}

const http = (port: PortName, path = '') => `http://${LOOPBACK}:${ports[port]}${path}`;

/** Environment shared by every component: the port table plus data locations and limits. */
export function stackEnvironment(settings: StackSettings): Record<string, string> {
  return {
    ...portEnvironment(),
    // Where each component listens and finds its peers: loopback here; a container listens on
    // 0.0.0.0 and finds its peers by name (infra/compose, infra/k8s), with the same configs.
    LISTEN_HOST: LOOPBACK,
    COLLECTOR_HOST: LOOPBACK,
    JAEGER_HOST: LOOPBACK,
    VICTORIALOGS_HOST: LOOPBACK,
    PROMETHEUS_HOST: LOOPBACK,
    ALERTMANAGER_HOST: LOOPBACK,
    NOTIFIER_HOST: LOOPBACK,
    NATS_STORE_DIR: statePaths.data('nats'),
    // The rules rendered from infra/prometheus/rules/ (their runbook links need the base URL).
    PROMETHEUS_RULES_DIR: join(statePaths.config(), 'rules'),
    RUNBOOK_BASE_URL: settings.runbookBaseUrl,
    PROMETHEUS_SCRAPE_TARGETS_DIR: join(statePaths.config(), 'scrape-targets'),
    COLLECTOR_STORAGE_DIR: join(statePaths.data('collector'), 'queue'),
    COLLECTOR_WAL_DIR: join(statePaths.data('collector'), 'wal'),
    COLLECTOR_MEMORY_LIMIT_MIB: String(settings.collectorMemoryLimitMib),
    COLLECTOR_MEMORY_SPIKE_MIB: String(Math.max(1, Math.floor(settings.collectorMemoryLimitMib / 4))),
    JAEGER_BADGER_DIR: statePaths.data('jaeger'),
    JAEGER_MAX_TRACES: String(settings.jaegerMaxTraces),
  };
}

/**
 * Collector config files for a profile: the receiving half, the pieces profiles share, the
 * profile's exporting half, then the options that change it.
 */
export function collectorConfigFiles(profile: string, options: { tailSampling?: boolean } = {}): string[] {
  return [
    join(repoRoot, 'collector/config/base.yaml'),
    join(repoRoot, 'collector/config/shared.yaml'),
    join(repoRoot, 'collector/config/profiles', `${profile}.yaml`),
    ...(options.tailSampling ? [join(repoRoot, 'collector/config/options/tail-sampling.yaml')] : []),
  ];
}

export function jaegerConfigFile(settings: StackSettings): string {
  return join(repoRoot, 'jaeger', settings.jaegerStorage === 'badger' ? 'config-badger.yaml' : 'config.yaml');
}

/**
 * Telemetry settings of the platform's services on the local stack. A variable already set in
 * the runner's environment wins, so `OTEL_TRACES_SAMPLER=…  npm start` reaches every service.
 */
function serviceEnvironment(port: PortName, extra: Record<string, string> = {}): Record<string, string> {
  const defaults: Record<string, string> = {
    OTEL_EXPORTER_OTLP_ENDPOINT: http('collectorOtlpGrpc'),
    OTEL_METRIC_EXPORT_INTERVAL: '10000',
    // Spans leave a service within a second rather than the specification's 5 s, so that a trace
    // is in Jaeger within 3 s of its request (docs/benchmarks.md, Freshness).
    OTEL_BSP_SCHEDULE_DELAY: '1000',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=local',
    NATS_URL: `nats://${LOOPBACK}:${ports.natsClient}`,
    ...extra,
  };
  const chosen = Object.fromEntries(
    Object.entries(defaults).map(([key, value]) => [key, process.env[key] ?? value]),
  );
  // The port comes from the table, whatever PORT the runner itself was given.
  return { ...chosen, PORT: String(ports[port]) };
}

/**
 * V8 grows a busy process's young generation towards its own maximum: at ten times the demo's
 * rate the worker's new space went from 56 to 108 MB of resident memory in 15 minutes while its
 * old space stayed at 24 MB (bench/soak, docs/benchmarks.md), which reads as a leak and is none.
 * 16 MB semi-spaces bound it at about 50 MB; the cost is more frequent scavenges, which took
 * 0.04% of a core before.
 */
const youngGenerationCap = '--max-semi-space-size=16';

/** One of the platform's Node services (apps/<name>/src/main.ts), run by this very Node. */
function platformService(
  name: Extract<
    ComponentName,
    'api' | 'worker' | 'signal-generator' | 'trigger-dispatcher' | 'loadgen' | 'notifier'
  >,
  title: string,
  port: PortName,
  extraEnv: Record<string, string> = {},
): Component {
  return {
    name,
    title,
    ports: [port],
    links: [[name === 'loadgen' ? 'stats' : 'http', http(port, name === 'loadgen' ? '/stats' : '')]],
    healthUrl: http(port, name === 'loadgen' ? '/health' : '/ready'),
    startTimeoutMs: 30_000,
    prepare() {
      return Promise.resolve({
        command: process.execPath,
        args: [sourceCondition, youngGenerationCap, join(repoRoot, 'apps', name, 'src/main.ts')],
        env: serviceEnvironment(port, extraEnv),
      });
    },
  };
}

export function defineComponents(settings: StackSettings): Component[] {
  return [
    {
      name: 'nats',
      title: 'NATS (JetStream)',
      ports: ['natsClient', 'natsMonitor'],
      links: [
        ['client', `nats://${LOOPBACK}:${ports.natsClient}`],
        ['monitor', http('natsMonitor')],
      ],
      healthUrl: http('natsMonitor', '/healthz'),
      startTimeoutMs: 30_000,
      async prepare(binaries, environment) {
        await mkdir(statePaths.data('nats'), { recursive: true });
        const config = await renderFile(
          join(repoRoot, 'infra/nats/nats.conf'),
          environment,
          statePaths.config(),
        );
        return { command: binaries.natsServer, args: ['--config', config] };
      },
    },
    {
      name: 'prometheus',
      title: 'Prometheus',
      ports: ['prometheus'],
      links: [['ui', http('prometheus')]],
      healthUrl: http('prometheus', '/-/ready'),
      startTimeoutMs: 180_000,
      async prepare(binaries, environment) {
        await mkdir(statePaths.data('prometheus'), { recursive: true });
        await mkdir(environment.PROMETHEUS_SCRAPE_TARGETS_DIR as string, { recursive: true });
        const config = await renderFile(
          join(repoRoot, 'infra/prometheus/prometheus.yml'),
          environment,
          statePaths.config(),
        );
        await renderDirectory(
          join(repoRoot, 'infra/prometheus/rules'),
          environment,
          environment.PROMETHEUS_RULES_DIR as string,
        );
        return {
          command: binaries.prometheus,
          args: [
            `--config.file=${config}`,
            `--storage.tsdb.path=${statePaths.data('prometheus')}`,
            `--web.listen-address=${LOOPBACK}:${ports.prometheus}`,
            '--web.enable-remote-write-receiver',
            '--enable-feature=exemplar-storage',
            '--web.enable-lifecycle',
            '--storage.tsdb.retention.time=15d',
          ],
        };
      },
    },
    {
      name: 'alertmanager',
      title: 'Alertmanager',
      ports: ['alertmanager'],
      links: [['ui', http('alertmanager')]],
      healthUrl: http('alertmanager', '/-/ready'),
      startTimeoutMs: 30_000,
      async prepare(binaries, environment) {
        await mkdir(statePaths.data('alertmanager'), { recursive: true });
        const config = await renderFile(
          join(repoRoot, 'infra/alertmanager/alertmanager.yml'),
          environment,
          statePaths.config(),
        );
        return {
          command: binaries.alertmanager,
          args: [
            `--config.file=${config}`,
            `--storage.path=${statePaths.data('alertmanager')}`,
            `--web.listen-address=${LOOPBACK}:${ports.alertmanager}`,
            `--web.external-url=${http('alertmanager')}`,
            // A single instance: no gossip port to clash with anything.
            '--cluster.listen-address=',
          ],
        };
      },
    },
    {
      name: 'jaeger',
      title: 'Jaeger v2',
      ports: [
        'jaegerOtlpGrpc',
        'jaegerOtlpHttp',
        'jaegerQuery',
        'jaegerQueryGrpc',
        'jaegerHealth',
        'jaegerMetrics',
      ],
      links: [
        ['query API', http('jaegerQuery', '/api/v3/services')],
        ['OTLP gRPC', `${LOOPBACK}:${ports.jaegerOtlpGrpc}`],
      ],
      healthUrl: http('jaegerHealth', '/status'),
      startTimeoutMs: 30_000,
      async prepare(binaries) {
        await mkdir(statePaths.data('jaeger'), { recursive: true });
        return { command: binaries.jaeger, args: ['--config', jaegerConfigFile(settings)] };
      },
    },
    {
      name: 'victorialogs',
      title: 'VictoriaLogs',
      ports: ['victoriaLogs'],
      links: [
        ['ui', http('victoriaLogs', '/select/vmui/')],
        ['LogsQL', http('victoriaLogs', '/select/logsql/query')],
      ],
      healthUrl: http('victoriaLogs', '/health'),
      startTimeoutMs: 30_000,
      async prepare(binaries) {
        await mkdir(statePaths.data('victorialogs'), { recursive: true });
        return {
          command: binaries.victoriaLogs,
          args: [
            `-storageDataPath=${statePaths.data('victorialogs')}`,
            `-httpListenAddr=${LOOPBACK}:${ports.victoriaLogs}`,
            // A week of logs, and never more than 2 GiB of disk: a laptop's stack must not fill it.
            '-retentionPeriod=7d',
            '-retention.maxDiskSpaceUsageBytes=2GiB',
            // Its own log line per accepted request would drown the errors worth reading.
            '-loggerLevel=WARN',
          ],
        };
      },
    },
    {
      name: 'collector',
      title: `OpenTelemetry Collector (profile ${settings.collectorProfile})`,
      ports: ['collectorOtlpGrpc', 'collectorOtlpHttp', 'collectorHealth', 'collectorMetrics'],
      links: [
        ['OTLP gRPC', `${LOOPBACK}:${ports.collectorOtlpGrpc}`],
        ['OTLP HTTP', http('collectorOtlpHttp')],
        ['own metrics', http('collectorMetrics', '/metrics')],
      ],
      healthUrl: http('collectorHealth', '/'),
      startTimeoutMs: 30_000,
      async prepare(binaries, environment) {
        await mkdir(environment.COLLECTOR_STORAGE_DIR as string, { recursive: true });
        await mkdir(environment.COLLECTOR_WAL_DIR as string, { recursive: true });
        const args = collectorConfigFiles(settings.collectorProfile, {
          tailSampling: settings.collectorTailSampling,
        }).flatMap((file) => ['--config', file]);
        // The Go runtime collects harder as the heap nears this, so garbage does not carry the
        // heap past the memory_limiter's hard limit between its checks (the collector
        // documentation's advice: about 80% of the hard limit).
        const goMemoryLimit = `${Math.floor(settings.collectorMemoryLimitMib * 0.8)}MiB`;
        return { command: binaries.otelcol, args, env: { GOMEMLIMIT: goMemoryLimit } };
      },
    },
    platformService('api', 'api (REST)', 'api'),
    platformService('worker', 'worker (executions)', 'worker'),
    platformService('signal-generator', 'signal-generator (market data, signals)', 'signalGenerator'),
    platformService('trigger-dispatcher', 'trigger-dispatcher (signals to executions)', 'triggerDispatcher'),
    platformService('notifier', 'notifier (alert webhook receiver)', 'notifier', {
      NOTIFIER_LOG_FILE: join(statePaths.data('notifier'), 'notifications.jsonl'),
    }),
    platformService('loadgen', `loadgen (${settings.loadgenRate} scenarios/s)`, 'loadgen', {
      LOADGEN_RATE: String(settings.loadgenRate),
      API_URL: http('api'),
    }),
  ];
}

/**
 * Start order: backends (and the notifier that Alertmanager delivers to) first, in parallel;
 * the collector once its destinations are up; the services once NATS and the collector are;
 * the load generator last.
 */
export const waves: readonly (readonly ComponentName[])[] = [
  ['nats', 'prometheus', 'alertmanager', 'jaeger', 'victorialogs', 'notifier'],
  ['collector'],
  ['api', 'worker', 'signal-generator', 'trigger-dispatcher'],
  ['loadgen'],
];

/** The telemetry backends without the platform's services: what pipeline-only tests start. */
export const infrastructure: readonly ComponentName[] = [
  'nats',
  'prometheus',
  'alertmanager',
  'jaeger',
  'victorialogs',
  'collector',
];
