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
import { isPortFree, ProcessTable } from './processes.ts';
import { maxInstances, natsClusterSizes, readSettings, type StackSettings } from './settings.ts';

export interface ComponentStatus {
  name: string;
  group: ComponentName;
  title: string;
  pid: number | undefined;
  healthy: boolean;
  links: Component['links'];
  logFile: string;
}

const processTable = () => new ProcessTable(statePaths.pids());
const logFile = (name: string) => join(statePaths.logs(), `${name}.log`);

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
  for (const port of component.listens) {
    if (!(await isPortFree(port))) {
      throw new StackError(
        `${component.title}: port ${port} on 127.0.0.1 is already in use by another process.\n` +
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
  only?: readonly string[],
): Promise<ComponentStatus[]> {
  const binaries = await ensureInstalled();
  const environment = stackEnvironment(settings);
  await mkdir(statePaths.logs(), { recursive: true });
  const components = defineComponents(settings);
  const table = processTable();
  log.step(`Starting the stack (state in ${stateDir()})`);
  for (const wave of waves) {
    const results = await Promise.allSettled(
      selected(components, wave, only).map((component) => {
        return startComponent(component, table, () => component.prepare(binaries, environment), environment);
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
  only?: readonly string[],
): Promise<void> {
  const table = processTable();
  // Every instance a setting may have started, not only the ones the settings ask for now: a
  // stack started with WORKER_INSTANCES=2 stops whole under the defaults.
  const named = new Map(defineComponents(settings).map((component) => [component.name, component]));
  const components = defineComponents({
    ...settings,
    natsCluster: maxOf(natsClusterSizes),
    workerInstances: maxInstances,
    triggerDispatcherInstances: maxInstances,
  }).map((component) => named.get(component.name) ?? component);
  for (const wave of [...waves].reverse()) {
    await Promise.all(
      selected(components, wave, only).map(async (component) => {
        const outcome = await table.stop(component.name);
        if (outcome === 'not running') return;
        if (outcome === 'killed') log.warn(`${component.title} did not stop in time and was killed`);
        // The kernel may release a listening socket a moment after the process is gone; a
        // start right after stop must find the ports free.
        const deadline = Date.now() + 5_000;
        for (const port of component.listens) {
          while (!(await isPortFree(port)) && Date.now() < deadline) await sleep(50);
        }
        if (outcome === 'stopped') log.done(`${component.title} stopped`);
      }),
    );
  }
}

const maxOf = (sizes: readonly string[]) => Math.max(...sizes.map(Number));

/**
 * The components of one start wave, all of them or those `only` names: by group (`worker`: every
 * worker instance) or by process (`worker-2`).
 */
function selected(
  components: readonly Component[],
  wave: readonly ComponentName[],
  only: readonly string[] | undefined,
): Component[] {
  return components.filter(
    (component) =>
      wave.includes(component.group) &&
      (only === undefined || only.includes(component.group) || only.includes(component.name)),
  );
}

export async function stackStatus(settings: StackSettings = readSettings()): Promise<ComponentStatus[]> {
  const table = processTable();
  return Promise.all(
    defineComponents(settings).map(async (component) => {
      const pid = await table.running(component.name);
      return {
        name: component.name,
        group: component.group,
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
