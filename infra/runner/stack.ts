/**
 * Start, stop and inspect the local stack. The CLI (cli.ts) and the end-to-end tests both
 * drive the stack through these functions.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Component,
  type ComponentName,
  defineComponents,
  stackEnvironment,
  type Launch,
  waves,
} from './components.ts';
import { tail } from './exec.ts';
import { ensureInstalled } from './install.ts';
import { log, StackError } from './log.ts';
import { stateDir, statePaths } from './paths.ts';
import { ports } from './ports.ts';
import { isPortFree, ProcessTable } from './processes.ts';
import { readSettings, type StackSettings } from './settings.ts';

export interface ComponentStatus {
  name: ComponentName;
  title: string;
  pid: number | undefined;
  healthy: boolean;
  links: Component['links'];
  logFile: string;
}

const processTable = () => new ProcessTable(statePaths.pids());
const logFile = (name: ComponentName) => join(statePaths.logs(), `${name}.log`);

async function isHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

async function waitHealthy(component: Component, table: ProcessTable): Promise<void> {
  const deadline = Date.now() + component.startTimeoutMs;
  while (Date.now() < deadline) {
    if (await isHealthy(component.healthUrl)) return;
    if ((await table.running(component.name)) === undefined) {
      throw new StackError(
        `${component.title} exited during start-up. Last lines of ${logFile(component.name)}:\n` +
          (await tail(logFile(component.name), 20)),
      );
    }
    await sleep(200);
  }
  throw new StackError(
    `${component.title} did not become healthy within ${component.startTimeoutMs / 1000}s ` +
      `(${component.healthUrl}). Last lines of ${logFile(component.name)}:\n${await tail(logFile(component.name), 20)}`,
  );
}

async function startComponent(
  component: Component,
  table: ProcessTable,
  launch: () => Promise<Launch>,
  environment: Record<string, string>,
): Promise<void> {
  if ((await table.running(component.name)) !== undefined) {
    await waitHealthy(component, table);
    log.info(`${component.title}: already running`);
    return;
  }
  for (const portName of component.ports) {
    const port = ports[portName];
    if (!(await isPortFree(port))) {
      throw new StackError(
        `${component.title}: port ${port} (${portName}) on 127.0.0.1 is already in use by another process.\n` +
          `  See which with: ss -ltnp 'sport = :${port}'\n` +
          '  Stop it (if it is a stack from another checkout, run `npm run stack -- stop` there) and start again.',
      );
    }
  }
  const { command, args, env } = await launch();
  await table.start({
    name: component.name,
    command,
    args,
    env: { ...process.env, ...environment, ...env } as Record<string, string>,
    cwd: stateDir(),
    logFile: logFile(component.name),
  });
  await waitHealthy(component, table);
  log.done(`${component.title} is healthy`);
}

/**
 * Installs what is missing, then starts every component that is not running yet, or only the
 * named ones (an integration test that needs NATS alone).
 */
export async function startStack(
  settings: StackSettings = readSettings(),
  only?: readonly ComponentName[],
): Promise<ComponentStatus[]> {
  const binaries = await ensureInstalled();
  const environment = stackEnvironment(settings);
  await mkdir(statePaths.logs(), { recursive: true });
  const components = new Map(defineComponents(settings).map((c) => [c.name, c]));
  const table = processTable();
  log.step(`Starting the stack (state in ${stateDir()})`);
  for (const wave of waves) {
    const results = await Promise.allSettled(
      wave
        .filter((name) => only?.includes(name) ?? true)
        .map((name) => {
          const component = components.get(name) as Component;
          return startComponent(
            component,
            table,
            () => component.prepare(binaries, environment),
            environment,
          );
        }),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }
  return stackStatus(settings);
}

/**
 * Stops every component (or only the named ones) in reverse start order: the services flush
 * into the collector, and the collector into the backends, before those stop.
 */
export async function stopStack(
  settings: StackSettings = readSettings(),
  only?: readonly ComponentName[],
): Promise<void> {
  const table = processTable();
  const components = new Map(defineComponents(settings).map((c) => [c.name, c]));
  for (const wave of [...waves].reverse()) {
    await Promise.all(
      wave
        .filter((name) => only?.includes(name) ?? true)
        .map(async (name) => {
          const outcome = await table.stop(name);
          const component = components.get(name);
          const title = component?.title ?? name;
          if (outcome === 'not running') return;
          if (outcome === 'killed') log.warn(`${title} did not stop in time and was killed`);
          // The kernel may release a listening socket a moment after the process is gone; a
          // start right after stop must find the ports free.
          const deadline = Date.now() + 5_000;
          for (const portName of component?.ports ?? []) {
            while (!(await isPortFree(ports[portName])) && Date.now() < deadline) await sleep(50);
          }
          if (outcome === 'stopped') log.done(`${title} stopped`);
        }),
    );
  }
}

export async function stackStatus(settings: StackSettings = readSettings()): Promise<ComponentStatus[]> {
  const table = processTable();
  return Promise.all(
    defineComponents(settings).map(async (component) => {
      const pid = await table.running(component.name);
      return {
        name: component.name,
        title: component.title,
        pid,
        healthy: pid !== undefined && (await isHealthy(component.healthUrl)),
        links: component.links,
        logFile: logFile(component.name),
      };
    }),
  );
}

export { logFile };
