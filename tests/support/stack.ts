import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statePaths } from '../../infra/runner/paths.ts';
import { isAlive, isPortFree } from '../../infra/runner/processes.ts';
import { ports } from '../../infra/runner/ports.ts';

/**
 * Points the stack runner at a fresh state directory, so that a test's stack never shares
 * data with a developer's own (ports are shared: stop your stack before running the tests).
 */
export async function useTemporaryStackState(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stack-e2e-'));
  process.env.STACK_STATE_DIR = dir;
  return dir;
}

/** Pids recorded by the runner that still belong to a live process (zombies excluded). */
export async function livePids(): Promise<number[]> {
  const files = await readdir(statePaths.pids()).catch(() => []);
  const pids = await Promise.all(
    files.map(async (file) => {
      const record = JSON.parse(await readFile(join(statePaths.pids(), file), 'utf8')) as { pid: number };
      return record.pid;
    }),
  );
  const alive = await Promise.all(pids.map((pid) => isAlive(pid)));
  return pids.filter((_, i) => alive[i]);
}

/** Ports of the table that something still listens on. */
export async function busyPorts(): Promise<number[]> {
  const all = Object.values(ports);
  const free = await Promise.all(all.map((port) => isPortFree(port)));
  return all.filter((_, i) => !free[i]);
}

/**
 * Metrics every 2 s and span batches every 200 ms instead of the stack's 10 s and 1 s
 * (infra/runner/components.ts), so that an end-to-end test sees in Prometheus and Jaeger what it
 * just did within seconds.
 */
export const QUICK_EXPORT = { OTEL_METRIC_EXPORT_INTERVAL: '2000', OTEL_BSP_SCHEDULE_DELAY: '200' } as const;

/** Market ticks every 250 ms and a 1 s cooldown per pipeline: a signal every second or so. */
export const QUICK_SIGNALS = { TICK_INTERVAL_MS: '250', SIGNAL_COOLDOWN_MS: '1000' } as const;
