/**
 * What the local stack runs: one entry per component, with its ports, health check and
 * command line. The start order is the order of `waves`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Binaries } from './install.ts';
import { repoRoot, sourceCondition, statePaths } from './paths.ts';
import { instancePort, LOOPBACK, type PortName, portEnvironment, ports } from './ports.ts';
import { renderDirectory, renderFile } from './render.ts';
import type { StackSettings } from './settings.ts';

/** A component as the runner's commands name it; extra nodes and instances are `<name>-<n>`. */
export type ComponentName =
  | 'nats'
  | 'nats-exporter'
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
  /** The process: `worker` for the first instance, `worker-2` for the second, `nats-3`, … */
  name: string;
  /** What it is an instance of; `only` lists of startStack/stopStack name groups or processes. */
  group: ComponentName;
  title: string;
  /** Its entries of the port table (the first instance's ports; compose uses the same names). */
  ports: readonly PortName[];
  /** The ports this very process listens on. */
  listens: readonly number[];
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
    // Prometheus scrapes every node through the exporter (infra/prometheus/prometheus.yml): a
    // YAML flow sequence, so that the template stays valid YAML.
    NATS_SCRAPE_TARGETS: `[${natsNodes(settings)
      .map((node) => `'${LOOPBACK}:${node.monitorPort}'`)
      .join(', ')}]`,
    NATS_EXPORTER_HOST: LOOPBACK,
    // How many instances of each the rules expect (ServiceInstanceDown, infra/prometheus/rules).
    WORKER_INSTANCES: String(settings.workerInstances),
    TRIGGER_DISPATCHER_INSTANCES: String(settings.triggerDispatcherInstances),
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
function serviceEnvironment(
  settings: StackSettings,
  port: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  const defaults: Record<string, string> = {
    OTEL_EXPORTER_OTLP_ENDPOINT: http('collectorOtlpGrpc'),
    OTEL_METRIC_EXPORT_INTERVAL: '10000',
    // Spans leave a service within a second rather than the specification's 5 s, so that a trace
    // is in Jaeger within 3 s of its request (docs/benchmarks.md, Freshness).
    OTEL_BSP_SCHEDULE_DELAY: '1000',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=local',
    ...extra,
  };
  const chosen = Object.fromEntries(
    Object.entries(defaults).map(([key, value]) => [key, process.env[key] ?? value]),
  );
  // The port comes from the table, whatever PORT the runner itself was given; the NATS nodes and
  // the replicas from NATS_CLUSTER, so that a service always finds the cluster the runner runs.
  return {
    ...chosen,
    PORT: String(port),
    NATS_URL: natsNodes(settings)
      .map((node) => `nats://${LOOPBACK}:${node.clientPort}`)
      .join(','),
    NATS_STREAM_REPLICAS: String(settings.natsCluster),
  };
}

/**
 * V8 grows a busy process's young generation towards its own maximum: at ten times the demo's
 * rate the worker's new space went from 56 to 108 MB of resident memory in 15 minutes while its
 * old space stayed at 24 MB (bench/soak, docs/benchmarks.md), which reads as a leak and is none.
 * 16 MB semi-spaces bound it at about 50 MB; the cost is more frequent scavenges, which took
 * 0.04% of a core before.
 */
const youngGenerationCap = '--max-semi-space-size=16';

type ServiceName = Extract<
  ComponentName,
  'api' | 'worker' | 'signal-generator' | 'trigger-dispatcher' | 'loadgen' | 'notifier'
>;

/** `worker`, `worker-2`, …: the first instance keeps the plain name, as on a one-instance stack. */
const instanceName = (group: string, index: number) => (index === 0 ? group : `${group}-${index + 1}`);

/**
 * The instances of one of the platform's Node services (apps/<name>/src/main.ts), run by this
 * very Node, each on its own port (ports.ts, instancePort) with its own log.
 */
function platformService(
  settings: StackSettings,
  name: ServiceName,
  title: string,
  port: PortName,
  options: { instances?: number; env?: Record<string, string> } = {},
): Component[] {
  const count = options.instances ?? 1;
  return Array.from({ length: count }, (_, index) => {
    const listen = instancePort(port, index);
    const address = `http://${LOOPBACK}:${listen}`;
    return {
      name: instanceName(name, index),
      group: name,
      title: count > 1 ? `${title} #${index + 1}` : title,
      ports: [port],
      listens: [listen],
      links: [[name === 'loadgen' ? 'stats' : 'http', name === 'loadgen' ? `${address}/stats` : address]],
      healthUrl: name === 'loadgen' ? `${address}/health` : `${address}/ready`,
      startTimeoutMs: 30_000,
      prepare() {
        return Promise.resolve({
          command: process.execPath,
          args: [sourceCondition, youngGenerationCap, join(repoRoot, 'apps', name, 'src/main.ts')],
          env: serviceEnvironment(settings, listen, options.env),
        });
      },
    } satisfies Component;
  });
}

interface NatsNode {
  name: string;
  /** server_name: `nats-1`, `nats-2`, …, the exporter's server_id label. */
  serverName: string;
  clientPort: number;
  monitorPort: number;
  clusterPort: number;
  storeDir: string;
}

/**
 * The NATS nodes NATS_CLUSTER asks for. A cluster keeps its data apart from the single node's
 * (data/nats-cluster/<node>), so switching NATS_CLUSTER back and forth finds each as it was left.
 */
export function natsNodes(settings: StackSettings): NatsNode[] {
  const clustered = settings.natsCluster > 1;
  return Array.from({ length: settings.natsCluster }, (_, index) => {
    const name = instanceName('nats', index);
    return {
      name,
      serverName: `nats-${index + 1}`,
      clientPort: instancePort('natsClient', index),
      monitorPort: instancePort('natsMonitor', index),
      clusterPort: instancePort('natsCluster', index),
      storeDir: clustered ? join(statePaths.data('nats-cluster'), name) : statePaths.data('nats'),
    };
  });
}

function natsComponents(settings: StackSettings): Component[] {
  const nodes = natsNodes(settings);
  const clustered = nodes.length > 1;
  const routes = nodes.map((node) => `"nats-route://${LOOPBACK}:${node.clusterPort}"`).join(', ');
  return nodes.map((node, index) => ({
    name: node.name,
    group: 'nats',
    title: clustered ? `NATS (JetStream cluster node ${index + 1}/${nodes.length})` : 'NATS (JetStream)',
    ports: clustered ? ['natsClient', 'natsMonitor', 'natsCluster'] : ['natsClient', 'natsMonitor'],
    listens: clustered
      ? [node.clientPort, node.monitorPort, node.clusterPort]
      : [node.clientPort, node.monitorPort],
    links: [
      ['client', `nats://${LOOPBACK}:${node.clientPort}`],
      ['monitor', `http://${LOOPBACK}:${node.monitorPort}`],
    ],
    // In a cluster, healthy once this node's JetStream has a meta leader and is current.
    healthUrl: `http://${LOOPBACK}:${node.monitorPort}/healthz`,
    startTimeoutMs: 30_000,
    async prepare(binaries, environment) {
      await mkdir(node.storeDir, { recursive: true });
      const values = {
        ...environment,
        NATS_SERVER_NAME: node.serverName,
        NATS_CLIENT_PORT: String(node.clientPort),
        NATS_MONITOR_PORT: String(node.monitorPort),
        NATS_CLUSTER_PORT: String(node.clusterPort),
        NATS_ROUTES: routes,
        NATS_STORE_DIR: node.storeDir,
      };
      const configDir = join(statePaths.config(), node.name);
      const single = await renderFile(join(repoRoot, 'infra/nats/nats.conf'), values, configDir);
      const config = clustered
        ? await renderFile(join(repoRoot, 'infra/nats/cluster.conf'), values, configDir)
        : single;
      return { command: binaries.natsServer, args: ['--config', config] };
    },
  }));
}

/** The component of a process that runs once, with the first entry of each port. */
function single(component: Omit<Component, 'listens' | 'group'> & { name: ComponentName }): Component {
  return { ...component, group: component.name, listens: component.ports.map((port) => ports[port]) };
}

export function defineComponents(settings: StackSettings): Component[] {
  return [
    ...natsComponents(settings),
    single({
      name: 'nats-exporter',
      title: 'NATS exporter (node metrics for Prometheus)',
      ports: ['natsExporter'],
      links: [['metrics', http('natsExporter', `/metrics?target=${LOOPBACK}:${ports.natsMonitor}`)]],
      healthUrl: http('natsExporter', '/health'),
      startTimeoutMs: 30_000,
      prepare() {
        return Promise.resolve({
          command: process.execPath,
          args: [sourceCondition, join(repoRoot, 'apps/nats-exporter/src/main.ts')],
          env: {
            PORT: String(ports.natsExporter),
            NATS_MONITOR_TARGETS: natsNodes(settings)
              .map((node) => `${LOOPBACK}:${node.monitorPort}`)
              .join(','),
          },
        });
      },
    }),
    single({
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
    }),
    single({
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
    }),
    single({
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
    }),
    single({
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
    }),
    single({
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
    }),
    ...platformService(settings, 'api', 'api (REST)', 'api'),
    ...platformService(settings, 'worker', 'worker (executions)', 'worker', {
      instances: settings.workerInstances,
    }),
    ...platformService(
      settings,
      'signal-generator',
      'signal-generator (market data, signals)',
      'signalGenerator',
    ),
    ...platformService(
      settings,
      'trigger-dispatcher',
      'trigger-dispatcher (signals to executions)',
      'triggerDispatcher',
      { instances: settings.triggerDispatcherInstances },
    ),
    ...platformService(settings, 'notifier', 'notifier (alert webhook receiver)', 'notifier', {
      env: { NOTIFIER_LOG_FILE: join(statePaths.data('notifier'), 'notifications.jsonl') },
    }),
    ...platformService(settings, 'loadgen', `loadgen (${settings.loadgenRate} scenarios/s)`, 'loadgen', {
      env: { LOADGEN_RATE: String(settings.loadgenRate), API_URL: http('api') },
    }),
  ];
}

/**
 * Start order: backends (and the notifier that Alertmanager delivers to) first, in parallel;
 * the collector once its destinations are up; the services once NATS and the collector are;
 * the load generator last.
 */
export const waves: readonly (readonly ComponentName[])[] = [
  ['nats', 'nats-exporter', 'prometheus', 'alertmanager', 'jaeger', 'victorialogs', 'notifier'],
  ['collector'],
  ['api', 'worker', 'signal-generator', 'trigger-dispatcher'],
  ['loadgen'],
];

/** The telemetry backends without the platform's services: what pipeline-only tests start. */
export const infrastructure: readonly ComponentName[] = [
  'nats',
  'nats-exporter',
  'prometheus',
  'alertmanager',
  'jaeger',
  'victorialogs',
  'collector',
];
