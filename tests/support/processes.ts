/**
 * Extra processes a test starts beside the stack (more collectors, more service instances):
 * each logs to the stack's log directory, is healthy before the test goes on, can be killed and
 * started again with the same data, and is stopped by the test's `after`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectorConfigFiles, stackEnvironment } from '../../infra/runner/components.ts';
import { ensureInstalled } from '../../infra/runner/install.ts';
import { repoRoot, statePaths } from '../../infra/runner/paths.ts';
import { LOOPBACK } from '../../infra/runner/ports.ts';
import { readSettings } from '../../infra/runner/settings.ts';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  healthUrl: string;
}

export interface TestProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** Starts it again (after stop) with the same command, environment and data. */
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

const running = new Set<TestProcess>();

export async function startProcess(spec: ProcessSpec): Promise<TestProcess> {
  let child: ChildProcess | undefined;
  const start = async () => {
    await mkdir(statePaths.logs(), { recursive: true });
    const log = await open(join(statePaths.logs(), `${spec.name}.log`), 'a');
    child = spawn(spec.command, spec.args, {
      env: { ...process.env, ...spec.env },
      cwd: repoRoot,
      stdio: ['ignore', log.fd, log.fd],
    });
    child.once('exit', () => void log.close());
    const deadline = Date.now() + 30_000;
    while (!(await healthy(spec.healthUrl))) {
      if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}; see its log`);
      if (Date.now() > deadline) throw new Error(`${spec.name} not healthy at ${spec.healthUrl} within 30 s`);
      await sleep(200);
    }
  };
  const handle: TestProcess = {
    name: spec.name,
    get pid() {
      return child?.pid;
    },
    start,
    async stop(signal = 'SIGTERM') {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
  await start();
  running.add(handle);
  return handle;
}

/** Stops every process this test started. */
export async function stopProcesses(): Promise<void> {
  await Promise.all([...running].map((handle) => handle.stop()));
  running.clear();
}

export interface CollectorPorts {
  grpc: number;
  http: number;
  health: number;
  metrics: number;
}

/** Ports of an extra collector, from a base: 24000 → OTLP gRPC 24317, HTTP 24318, … */
export function collectorPorts(base: number): CollectorPorts {
  return { grpc: base + 317, http: base + 318, health: base + 133, metrics: base + 888 };
}

/**
 * Another instance of our collector with a profile and its own ports and data; `overlays` are
 * config files merged after the profile's.
 */
export async function startCollector(
  name: string,
  profile: string,
  ports: CollectorPorts,
  env: Record<string, string> = {},
  overlays: string[] = [],
): Promise<TestProcess> {
  const { otelcol } = await ensureInstalled();
  const data = statePaths.data(name);
  await mkdir(join(data, 'queue'), { recursive: true });
  await mkdir(join(data, 'wal'), { recursive: true });
  return startProcess({
    name,
    command: otelcol,
    args: [...collectorConfigFiles(profile), ...overlays].flatMap((file) => ['--config', file]),
    env: {
      ...stackEnvironment(readSettings()),
      COLLECTOR_OTLP_GRPC_PORT: String(ports.grpc),
      COLLECTOR_OTLP_HTTP_PORT: String(ports.http),
      COLLECTOR_HEALTH_PORT: String(ports.health),
      COLLECTOR_METRICS_PORT: String(ports.metrics),
      COLLECTOR_STORAGE_DIR: join(data, 'queue'),
      COLLECTOR_WAL_DIR: join(data, 'wal'),
      ...env,
    },
    healthUrl: `http://${LOOPBACK}:${ports.health}/`,
  });
}
