/**
 * The runner's own settings, all from the environment and all read here. A wrong value stops
 * the runner with the variable's name and the values it accepts.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from './log.ts';
import { repoRoot } from './paths.ts';
import { LOOPBACK, ports } from './ports.ts';

export const jaegerStorages = ['memory', 'badger'] as const;

/** Sizes of the NATS cluster: odd, so that a majority survives the loss of a node. */
export const natsClusterSizes = ['1', '3', '5'] as const;
export type JaegerStorage = (typeof jaegerStorages)[number];

export interface StackSettings {
  /** COLLECTOR_PROFILE: which file of collector/config/profiles/ is the exporting half. */
  collectorProfile: string;
  /** JAEGER_STORAGE: where Jaeger keeps traces. */
  jaegerStorage: JaegerStorage;
  /**
   * JAEGER_MAX_TRACES: traces the in-memory store keeps, the oldest evicted first; about 7.7 KB
   * of resident memory each at the platform's trace sizes (jaeger/config.yaml).
   */
  jaegerMaxTraces: number;
  /**
   * COLLECTOR_TAIL_SAMPLING: profile "local" with collector/config/options/tail-sampling.yaml, so
   * Jaeger keeps every error and slow trace and a share of the rest.
   */
  collectorTailSampling: boolean;
  /**
   * NATS_CLUSTER: NATS nodes. 1 is one server; 3 or 5 are a JetStream cluster on loopback whose
   * streams and buckets each node keeps (NATS_STREAM_REPLICAS for the services).
   */
  natsCluster: number;
  /** WORKER_INSTANCES: worker processes sharing the work queue's durable consumer. */
  workerInstances: number;
  /** TRIGGER_DISPATCHER_INSTANCES: dispatcher processes sharing the signal stream's consumer. */
  triggerDispatcherInstances: number;
  /** COLLECTOR_MEMORY_LIMIT_MIB: the memory_limiter's hard limit; the spike limit is a quarter. */
  collectorMemoryLimitMib: number;
  /** LOADGEN_RATE: scenarios per second that the load generator starts. */
  loadgenRate: number;
  /**
   * RUNBOOK_BASE_URL: where the alerts' `runbook_url` points, `<base>#<alert>`. The notifier's
   * rendering of docs/runbooks.md by default; a repository host's URL of the file for a pager or
   * chat outside this machine.
   */
  runbookBaseUrl: string;
}

export function collectorProfiles(): string[] {
  return readdirSync(join(repoRoot, 'collector/config/profiles'))
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => file.slice(0, -'.yaml'.length))
    .sort();
}

function oneOf<T extends string>(variable: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new StackError(
    `${variable}=${JSON.stringify(value)} is not valid; allowed values: ${allowed.join(', ')}`,
  );
}

function positiveInteger(variable: string, value: string): number {
  const parsed = Number(value);
  if (Number.isInteger(parsed) && parsed > 0) return parsed;
  throw new StackError(`${variable}=${JSON.stringify(value)} is not valid; expected a positive integer`);
}

/** Each instance is a Node process of about 60 MB with its own port (ports.ts, ten apart). */
export const maxInstances = 4;

function instances(variable: string, value: string): number {
  const parsed = Number(value);
  if (Number.isInteger(parsed) && parsed >= 1 && parsed <= maxInstances) return parsed;
  throw new StackError(
    `${variable}=${JSON.stringify(value)} is not valid; expected an integer from 1 to ${maxInstances}`,
  );
}

function positiveNumber(variable: string, value: string): number {
  const parsed = Number(value);
  if (Number.isFinite(parsed) && parsed > 0) return parsed;
  throw new StackError(`${variable}=${JSON.stringify(value)} is not valid; expected a number above 0`);
}

function absoluteUrl(variable: string, value: string): string {
  const url = URL.parse(value);
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && !url.hash) return value;
  throw new StackError(
    `${variable}=${JSON.stringify(value)} is not valid; expected an absolute http or https URL without a #fragment`,
  );
}

function tailSamplingFor(profile: string, value: string): boolean {
  const enabled = oneOf('COLLECTOR_TAIL_SAMPLING', value, ['true', 'false']) === 'true';
  if (enabled && profile !== 'local')
    throw new StackError(
      `COLLECTOR_TAIL_SAMPLING=true is an option of COLLECTOR_PROFILE=local, not of ${JSON.stringify(profile)}; the gateway profile samples by itself`,
    );
  return enabled;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): StackSettings {
  const collectorProfile = oneOf('COLLECTOR_PROFILE', env.COLLECTOR_PROFILE ?? 'local', collectorProfiles());
  return {
    collectorProfile,
    collectorTailSampling: tailSamplingFor(collectorProfile, env.COLLECTOR_TAIL_SAMPLING ?? 'false'),
    jaegerStorage: oneOf('JAEGER_STORAGE', env.JAEGER_STORAGE ?? 'memory', jaegerStorages),
    jaegerMaxTraces: positiveInteger('JAEGER_MAX_TRACES', env.JAEGER_MAX_TRACES ?? '25000'),
    collectorMemoryLimitMib: positiveInteger(
      'COLLECTOR_MEMORY_LIMIT_MIB',
      env.COLLECTOR_MEMORY_LIMIT_MIB ?? '512',
    ),
    natsCluster: Number(oneOf('NATS_CLUSTER', env.NATS_CLUSTER ?? '1', natsClusterSizes)),
    workerInstances: instances('WORKER_INSTANCES', env.WORKER_INSTANCES ?? '1'),
    triggerDispatcherInstances: instances(
      'TRIGGER_DISPATCHER_INSTANCES',
      env.TRIGGER_DISPATCHER_INSTANCES ?? '1',
    ),
    loadgenRate: positiveNumber('LOADGEN_RATE', env.LOADGEN_RATE ?? '5'),
    runbookBaseUrl: absoluteUrl(
      'RUNBOOK_BASE_URL',
      env.RUNBOOK_BASE_URL ?? `http://${LOOPBACK}:${ports.notifier}/runbooks`,
    ),
  };
}
