/**
 * Detached processes with pid files: the stack outlives the command that started it, and
 * `stop` finds every process again, even from another shell.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOOPBACK } from './ports.ts';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
}

interface PidRecord {
  pid: number;
  command: string;
}

/** True while `pid` is a live process; a zombie has exited and only waits to be reaped. */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3 is the state, after the parenthesised command name (which may contain spaces).
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** True while `pid` is a live process running `command` (a zombie or a reused pid is not). */
async function isOurs(record: PidRecord): Promise<boolean> {
  try {
    if (!(await isAlive(record.pid))) return false;
    const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8');
    return cmdline.split('\0')[0] === record.command;
  } catch {
    return false;
  }
}

export class ProcessTable {
  readonly #dir: string;

  constructor(pidDir: string) {
    this.#dir = pidDir;
  }

  #pidFile(name: string): string {
    return join(this.#dir, `${name}.pid`);
  }

  async #read(name: string): Promise<PidRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.#pidFile(name), 'utf8')) as PidRecord;
    } catch {
      return undefined;
    }
  }

  /** The pid of the named process if it is running. */
  async running(name: string): Promise<number | undefined> {
    const record = await this.#read(name);
    return record && (await isOurs(record)) ? record.pid : undefined;
  }

  async start(spec: ProcessSpec): Promise<number> {
    await mkdir(this.#dir, { recursive: true });
    const logHandle = await open(spec.logFile, 'a');
    try {
      await logHandle.write(
        `\n--- ${new Date().toISOString()} starting ${spec.command} ${spec.args.join(' ')}\n`,
      );
      const child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env,
        // Own process group: stop signals the whole group, and a Ctrl-C in the terminal
        // that started the stack does not reach it.
        detached: true,
        stdio: ['ignore', logHandle.fd, logHandle.fd],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid as number));
        child.once('error', reject);
      });
      child.unref();
      await writeFile(
        this.#pidFile(spec.name),
        JSON.stringify({ pid, command: spec.command } satisfies PidRecord),
      );
      return pid;
    } finally {
      await logHandle.close();
    }
  }

  /** Stops the named process and its group: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(name: string, graceMs = 15_000): Promise<'stopped' | 'killed' | 'not running'> {
    const record = await this.#read(name);
    if (!record || !(await isOurs(record))) {
      await rm(this.#pidFile(name), { force: true });
      return 'not running';
    }
    signalGroup(record.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if (!(await isOurs(record))) {
        await rm(this.#pidFile(name), { force: true });
        return 'stopped';
      }
      await sleep(100);
    }
    signalGroup(record.pid, 'SIGKILL');
    while (await isOurs(record)) await sleep(50);
    await rm(this.#pidFile(name), { force: true });
    return 'killed';
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group leader may already be gone; signal the process itself as a fallback.
    try {
      process.kill(pid, signal);
    } catch {
      // Already exited.
    }
  }
}

/** True when nothing listens on the loopback port (we could bind it ourselves). */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
