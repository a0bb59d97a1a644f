import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { log, StackError } from './log.ts';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Output goes here instead of being captured; on failure its tail is shown. */
  logFile?: string;
  /** Printed every 20 s while the command runs, so long builds show that they progress. */
  heartbeat?: string;
}

/** Runs a command to completion and returns its stdout; throws a StackError naming `what` on failure. */
export async function run(what: string, command: string, args: string[], options: RunOptions = {}) {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sink = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (sink) sink.write(chunk);
    else stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    if (sink) sink.write(chunk);
    else stderr += chunk.toString();
  });
  const startedAt = Date.now();
  const ticker = options.heartbeat
    ? setInterval(() => {
        log.info(`… ${options.heartbeat} (${Math.round((Date.now() - startedAt) / 1000)}s)`);
      }, 20_000)
    : undefined;
  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  if (ticker) clearInterval(ticker);
  if (sink) await new Promise((resolve) => sink.end(resolve));
  if (exit.error) {
    throw new StackError(`${what}: cannot run ${command} (${exit.error.message})`);
  }
  if (exit.code !== 0) {
    const output = options.logFile ? await tail(options.logFile, 30) : `${stderr}${stdout}`.trim();
    const where = options.logFile ? `\nFull log: ${options.logFile}` : '';
    throw new StackError(`${what} failed (${command} exited with ${exit.code}):\n${output}${where}`);
  }
  return stdout;
}

/** The last `lines` lines of a text file, or '' when it does not exist. */
export async function tail(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
