/**
 * Installs what the stack runs, once: Debian packages (Prometheus, Alertmanager) and the Go builds
 * (our collector distribution, Jaeger v2, VictoriaLogs, nats-server). Builds are cached outside the
 * work tree and keyed by a hash of their inputs, so a second run finds them in milliseconds.
 */
import { createHash } from 'node:crypto';
import { access, constants, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { run } from './exec.ts';
import { log, StackError } from './log.ts';
import { cacheDir, repoRoot } from './paths.ts';

type DebianBinary = 'prometheus' | 'promtool' | 'alertmanager' | 'amtool';

interface DebianPackage<B extends string = DebianBinary> {
  name: string;
  version: string;
  binaries: Partial<Record<B, string>>;
}

/** Debian packages, pinned: bookworm's Prometheus 2.42 and Alertmanager 0.25. */
const debianPackages: readonly DebianPackage[] = [
  {
    name: 'prometheus',
    version: '2.42.0+ds-5+deb12u1',
    binaries: { prometheus: '/usr/bin/prometheus', promtool: '/usr/bin/promtool' },
  },
  {
    name: 'prometheus-alertmanager',
    version: '0.25.0-1+b4',
    binaries: { alertmanager: '/usr/bin/prometheus-alertmanager', amtool: '/usr/bin/amtool' },
  },
];

const collectorManifest = join(repoRoot, 'collector/builder-config.yaml');
const jaegerBuildDir = join(repoRoot, 'jaeger/build');
const jaegerModule = 'github.com/jaegertracing/jaeger';

/**
 * The logs backend, built from its Go module like the collector and Jaeger (Apache-2.0). Compose
 * runs the official image of the same release (infra/compose/compose.yaml; a config test checks
 * that the two agree).
 */
export const victoriaLogsVersion = 'v1.52.1';
const victoriaLogsPackage = 'github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs';

/**
 * NATS, built from its Go module (Apache-2.0), the release compose runs as an image. Not Debian's
 * 2.9.10: a replica of a key-value bucket that restarted after its node was killed came back with
 * the same messages at sequence numbers 67 higher than the other two (tests/e2e/scale-out.test.ts),
 * the replica drift after a catch-up over failed compare-and-set writes that nats-server 2.10
 * fixed. A bucket's sequences are its revisions, so the drift would break the workers' claims.
 */
export const natsServerVersion = 'v2.10.27';
const natsServerPackage = 'github.com/nats-io/nats-server/v2';

export type Binaries = Record<DebianBinary | 'otelcol' | 'jaeger' | 'victoriaLogs' | 'natsServer', string>;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function shortHash(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * `go install <package>@<version>` into `binary`'s directory. Through a staging directory and a
 * rename, so that an interrupted build never leaves a half-written binary that a later run would
 * take for a finished one.
 */
async function goInstall(what: string, packageAtVersion: string, binary: string, logFile: string) {
  const staging = join(dirname(binary), '.staging');
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await run(what, 'go', ['install', '-trimpath', '-ldflags=-s -w', packageAtVersion], {
    env: { ...process.env, GOBIN: staging },
    logFile,
    heartbeat: what,
  });
  // Named after the package path's last element, or the one before a major-version suffix
  // (github.com/nats-io/nats-server/v2 builds nats-server), as `go install` names it.
  const path = packageAtVersion.replace(/@.*$/, '');
  const built = basename(/\/v\d+$/.test(path) ? dirname(path) : path);
  await rename(join(staging, built), binary);
  await rm(staging, { recursive: true, force: true });
}

/** The HTTP load generator of the HTTP overhead benchmark: not part of the stack. */
const wrkPackage: DebianPackage<'wrk'> = {
  name: 'wrk',
  version: '4.1.0-3+b2',
  binaries: { wrk: '/usr/bin/wrk' },
};

async function installDebianPackages(packages: readonly DebianPackage<string>[]): Promise<void> {
  const missing: string[] = [];
  for (const pkg of packages) {
    for (const binary of Object.values(pkg.binaries)) {
      if (binary !== undefined && !(await exists(binary))) {
        missing.push(`${pkg.name}=${pkg.version}`);
        break;
      }
    }
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new StackError(
      `Debian packages missing: ${missing.join(' ')}.\n` +
        `Install them as root, then run the command again:\n  sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
  log.step(`Installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get update', 'apt-get', ['update'], { env, heartbeat: 'updating package lists' });
  await run(
    `installing ${missing.join(' ')}`,
    'apt-get',
    ['install', '-y', '--no-install-recommends', ...missing],
    { env, heartbeat: 'installing Debian packages' },
  );
  log.done('Debian packages installed');
}

async function goEnvironment(): Promise<{ go: string; version: string }> {
  try {
    const version = (await run('go version', 'go', ['env', 'GOVERSION'])).trim();
    return { go: 'go', version };
  } catch {
    throw new StackError(
      'Go is needed once, to build the collector, Jaeger and VictoriaLogs, and was not found on PATH.\n' +
        'Install Go 1.26.5 or newer (VictoriaLogs needs it) and run the command again.',
    );
  }
}

/** The collector version of the manifest's distribution: the builder must be the same version. */
function collectorVersion(manifest: string): string {
  const match = /^dist:[\s\S]*?^\s+version:\s*(\S+)/m.exec(manifest);
  if (!match?.[1]) throw new StackError(`${collectorManifest}: dist.version is missing`);
  return match[1];
}

async function buildCollector(goVersion: string): Promise<string> {
  const manifest = await readFile(collectorManifest, 'utf8');
  const version = collectorVersion(manifest);
  const key = shortHash(manifest, goVersion);
  const root = join(cacheDir(), 'otelcol', key);
  const binary = join(root, 'otelcol-trading');
  if (await exists(binary)) return binary;

  log.step(`Building the collector distribution ${version} (first time only; about 10 minutes on 2 cores)`);
  const buildLog = join(root, 'build.log');
  const source = join(root, 'src');
  await rm(root, { recursive: true, force: true });
  await mkdir(source, { recursive: true });

  const toolDir = join(cacheDir(), 'tools', `builder-v${version}`);
  const builder = join(toolDir, 'builder');
  if (!(await exists(builder))) {
    log.info(`installing the Collector Builder v${version}`);
    await goInstall(
      'installing the Collector Builder',
      `go.opentelemetry.io/collector/cmd/builder@v${version}`,
      builder,
      buildLog,
    );
  }

  // The builder's own `go mod tidy` also resolves the test dependencies of every component,
  // some of which the module proxy does not serve. So the builder only generates the sources,
  // and we resolve and compile just what the binary imports.
  const generated = join(root, 'builder-config.yaml');
  await writeFile(generated, manifest.replace(/^(\s*output_path:).*$/m, `$1 ${source}`));
  log.info('generating sources');
  await run(
    'generating collector sources',
    builder,
    [`--config=${generated}`, '--skip-get-modules', '--skip-compilation'],
    { logFile: buildLog },
  );
  const moduleName = /^\s+module:\s*(\S+)/m.exec(manifest)?.[1] ?? 'otelcol-trading';
  await run('go mod init', 'go', ['mod', 'init', moduleName], { cwd: source, logFile: buildLog });
  const modules = [...manifest.matchAll(/gomod:\s*(\S+)\s+(v\S+)/g)].map(([, path, ver]) => `${path}@${ver}`);
  log.info(`resolving ${modules.length} component modules`);
  await run(
    'resolving collector modules',
    'go',
    ['get', ...modules, `go.opentelemetry.io/collector/otelcol@v${version}`],
    {
      cwd: source,
      logFile: buildLog,
      heartbeat: 'downloading collector modules',
    },
  );
  log.info('compiling');
  await run(
    'compiling the collector',
    'go',
    ['build', '-mod=mod', '-trimpath', '-ldflags=-s -w', '-o', `${binary}.tmp`, '.'],
    {
      cwd: source,
      logFile: buildLog,
      heartbeat: 'compiling the collector',
    },
  );
  await rename(`${binary}.tmp`, binary);
  log.done(`collector built: ${binary}`);
  return binary;
}

async function buildJaeger(goVersion: string): Promise<string> {
  const [goMod, goSum, patch] = await Promise.all(
    ['go.mod', 'go.sum', 'collector-0.155-compat.patch'].map((f) =>
      readFile(join(jaegerBuildDir, f), 'utf8'),
    ),
  );
  const key = shortHash(goMod ?? '', goSum ?? '', patch ?? '', goVersion);
  const root = join(cacheDir(), 'jaeger', key);
  const binary = join(root, 'jaeger');
  if (await exists(binary)) return binary;

  const version = /github\.com\/jaegertracing\/jaeger (v\S+)/.exec(goMod ?? '')?.[1];
  if (!version) throw new StackError(`${jaegerBuildDir}/go.mod does not require ${jaegerModule}`);
  log.step(`Building Jaeger (module ${version}) (first time only; about 8 minutes on 2 cores)`);
  const buildLog = join(root, 'build.log');
  await rm(root, { recursive: true, force: true });
  const moduleDir = join(root, 'module');
  const sourceDir = join(root, 'src');
  await mkdir(moduleDir, { recursive: true });
  await cp(jaegerBuildDir, moduleDir, { recursive: true });

  log.info('downloading the Jaeger module');
  const download = await run(
    'downloading Jaeger',
    'go',
    ['mod', 'download', '-json', `${jaegerModule}@${version}`],
    {
      cwd: moduleDir,
    },
  );
  const { Dir: moduleCacheDir } = JSON.parse(download) as { Dir?: string };
  if (!moduleCacheDir) throw new StackError(`downloading Jaeger: go mod download gave no directory`);
  // The module cache is read-only; patch a copy.
  await cp(moduleCacheDir, sourceDir, { recursive: true });
  await run('making the Jaeger sources writable', 'chmod', ['-R', 'u+w', sourceDir]);
  await run(
    'patching Jaeger for collector 0.155',
    'patch',
    ['-p1', '--forward', '-i', join(moduleDir, 'collector-0.155-compat.patch')],
    {
      cwd: sourceDir,
      logFile: buildLog,
    },
  );
  await run('go mod edit', 'go', ['mod', 'edit', `-replace=${jaegerModule}=${sourceDir}`], {
    cwd: moduleDir,
  });
  log.info('compiling');
  await run(
    'compiling Jaeger',
    'go',
    ['build', '-trimpath', '-ldflags=-s -w', '-o', `${binary}.tmp`, `${jaegerModule}/cmd/jaeger`],
    { cwd: moduleDir, logFile: buildLog, heartbeat: 'compiling Jaeger' },
  );
  await rename(`${binary}.tmp`, binary);
  log.done(`Jaeger built: ${binary}`);
  return binary;
}

/**
 * A plain Go module's command (no replace directives), built by `go install` once per version
 * and Go release into the cache: VictoriaLogs, nats-server.
 */
async function buildGoCommand(
  title: string,
  binaryName: string,
  packagePath: string,
  version: string,
  goVersion: string,
  duration: string,
): Promise<string> {
  const root = join(cacheDir(), binaryName, shortHash(version, goVersion));
  const binary = join(root, binaryName);
  if (await exists(binary)) return binary;
  log.step(`Building ${title} ${version} (first time only; ${duration})`);
  await mkdir(root, { recursive: true });
  await goInstall(`compiling ${title}`, `${packagePath}@${version}`, binary, join(root, 'build.log'));
  log.done(`${title} built: ${binary}`);
  return binary;
}

/**
 * The collector project's own load generator, at the collector's version: the pipeline benchmark
 * and the memory-limiter fault test drive the collector with it. Not part of the stack, so
 * installed only when one of those asks for it.
 */
export async function ensureTelemetrygen(): Promise<string> {
  await goEnvironment();
  const version = collectorVersion(await readFile(collectorManifest, 'utf8'));
  const toolDir = join(cacheDir(), 'tools', `telemetrygen-v${version}`);
  const binary = join(toolDir, 'telemetrygen');
  if (await exists(binary)) return binary;
  log.step(`Building telemetrygen v${version} (first time only; about a minute)`);
  await mkdir(toolDir, { recursive: true });
  await goInstall(
    'building telemetrygen',
    `github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v${version}`,
    binary,
    join(toolDir, 'build.log'),
  );
  log.done(`telemetrygen built: ${binary}`);
  return binary;
}

/** wrk, installed from Debian's packages when the HTTP overhead benchmark first asks for it. */
export async function ensureWrk(): Promise<string> {
  await installDebianPackages([wrkPackage]);
  return wrkPackage.binaries.wrk ?? 'wrk';
}

/** Installs and builds whatever is missing and returns the path of every binary the stack runs. */
export async function ensureInstalled(): Promise<Binaries> {
  await installDebianPackages(debianPackages);
  const { version } = await goEnvironment();
  // Sequential on purpose: each build already uses every core.
  const otelcol = await buildCollector(version);
  const jaeger = await buildJaeger(version);
  const victoriaLogs = await buildGoCommand(
    'VictoriaLogs',
    'victoria-logs',
    victoriaLogsPackage,
    victoriaLogsVersion,
    version,
    'about 5 minutes on 2 cores',
  );
  const natsServer = await buildGoCommand(
    'nats-server',
    'nats-server',
    natsServerPackage,
    natsServerVersion,
    version,
    'under a minute',
  );
  const debian = Object.assign({}, ...debianPackages.map((p) => p.binaries)) as Record<DebianBinary, string>;
  return { ...debian, otelcol, jaeger, victoriaLogs, natsServer };
}
