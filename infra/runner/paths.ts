import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: everything the stack reads (configs, manifests) is found from here. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Runtime state (logs, data, pid files, rendered configs). Kept out of version control;
 * `STACK_STATE_DIR` moves it, which the tests use to keep their data apart from a user's stack.
 */
export function stateDir(): string {
  return resolve(process.env.STACK_STATE_DIR ?? join(repoRoot, '.stack'));
}

/**
 * Built binaries live outside the work tree so that a fresh clone, `git clean` or a second
 * checkout reuses them. Keyed by manifest hash inside, so stale builds are never picked up.
 */
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return resolve(process.env.STACK_CACHE_DIR ?? join(base, 'trading-observability'));
}

export const statePaths = {
  logs: () => join(stateDir(), 'logs'),
  data: (component: string) => join(stateDir(), 'data', component),
  pids: () => join(stateDir(), 'run'),
  config: () => join(stateDir(), 'config'),
};

/**
 * Node's flag that selects the workspace packages' TypeScript source in their `exports` (a packed
 * library has only dist/). npm scripts get it from .npmrc; processes the runner starts get it
 * explicitly, however the runner itself was started.
 */
export const sourceCondition = '--conditions=@tradeobs/source';
