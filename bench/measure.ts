/** What the benchmarks read off running processes in /proc: CPU time and resident memory. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { ComponentName } from '../infra/runner/components.ts';
import { stackStatus } from '../infra/runner/stack.ts';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** User plus system CPU seconds a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the file, 12 and 13 after the state.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Resident memory of a process, in MB. */
export async function rssMegabytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** Pids of the named components of the running stack (all running ones without names). */
export async function pidsOf(names?: readonly ComponentName[]): Promise<Record<string, number>> {
  return Object.fromEntries(
    (await stackStatus())
      .filter((s) => s.pid !== undefined && (names?.includes(s.group) ?? true))
      .map((s) => [s.name, s.pid as number]),
  );
}

/** CPU seconds used so far, per process. */
export async function cpuOf(pids: Record<string, number>): Promise<Record<string, number>> {
  return Object.fromEntries(
    await Promise.all(
      Object.entries(pids).map(async ([name, pid]): Promise<[string, number]> => [
        name,
        await cpuSeconds(pid),
      ]),
    ),
  );
}
