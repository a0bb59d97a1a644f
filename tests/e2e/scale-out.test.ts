/**
 * The platform scaled out, on one stack: a three-node JetStream cluster (NATS_CLUSTER=3, every
 * stream and bucket on three nodes) with two workers and two trigger dispatchers sharing their
 * durable consumers.
 * - One NATS node SIGKILLed for 30 s under load (the leader of the work queue's stream): no
 *   request fails for longer than the client takes to reconnect and JetStream to elect a new
 *   leader, every signal generated is consumed, every execution requested finishes exactly
 *   once, the key-value state is identical on the three nodes afterwards, and NatsNodeDown fires
 *   and resolves.
 * - One of the two workers SIGKILLed mid-burst: its unacknowledged executions are redelivered
 *   and finish once on the other, the per-instance counters add up to what the workers did,
 *   ServiceInstanceDown fires and ServiceDown does not.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineComponents, infrastructure, natsNodes } from '../../infra/runner/components.ts';
import { statePaths } from '../../infra/runner/paths.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { ProcessTable } from '../../infra/runner/processes.ts';
import { readSettings, type StackSettings } from '../../infra/runner/settings.ts';
import { logFile, stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { buckets as platformBuckets } from '@tradeobs/platform';
import { eventually } from '../support/poll.ts';
import { query } from '../support/prometheus.ts';
import { QUICK_EXPORT, QUICK_SIGNALS, useTemporaryStackState } from '../support/stack.ts';

const settings: StackSettings = {
  ...readSettings(),
  natsCluster: 3,
  workerInstances: 2,
  triggerDispatcherInstances: 2,
};
const services = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'];
const api = `http://${LOOPBACK}:${ports.api}`;

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${api}${path}`, {
    method,
    signal: AbortSignal.timeout(20_000),
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

async function total(promql: string): Promise<number> {
  return Number((await query(promql))[0]?.value[1] ?? 0);
}

async function alertState(alertname: string, matchers: string): Promise<string | undefined> {
  const samples = await query(`ALERTS{alertname="${alertname}", ${matchers}}`);
  return samples.some((s) => s.metric.alertstate === 'firing')
    ? 'firing'
    : samples.length > 0
      ? 'pending'
      : undefined;
}

/** A signal to one process of the stack, by its runner name (`nats-2`, `worker-2`). */
async function kill(name: string, signal: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL'): Promise<void> {
  const pid = await new ProcessTable(statePaths.pids()).running(name);
  assert.ok(pid, `${name} is running`);
  process.kill(-pid, signal);
}

interface ConsumerDetail {
  name: string;
  cluster?: { leader?: string };
  num_pending: number;
  num_ack_pending: number;
  ack_floor: { stream_seq: number };
}

interface StreamDetail {
  name: string;
  cluster?: { leader?: string };
  state: { messages: number; bytes: number; first_seq: number; last_seq: number; num_deleted?: number };
  consumer_detail?: ConsumerDetail[];
}

/** What one node holds of every stream (its own replica), from its monitoring endpoint. */
async function streamsOn(monitorPort: number): Promise<Map<string, StreamDetail>> {
  const response = await fetch(`http://${LOOPBACK}:${monitorPort}/jsz?streams=true&consumers=true`, {
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { account_details?: { stream_detail?: StreamDetail[] }[] };
  return new Map((body.account_details ?? []).flatMap((a) => a.stream_detail ?? []).map((s) => [s.name, s]));
}

/**
 * The stream as its leader reports it, with the consumer as the consumer's leader reports it:
 * the two may be different nodes, and a follower's view of a consumer's pending count and ack
 * floor runs behind.
 */
async function fromLeaders(
  stream: string,
  consumer: string,
): Promise<{ stream: StreamDetail; consumer: ConsumerDetail }> {
  const nodes = natsNodes(settings);
  const views = await Promise.all(nodes.map((n) => streamsOn(n.monitorPort)));
  const leaderView = (leader: string | undefined) => views[nodes.findIndex((n) => n.serverName === leader)];
  const anyView = views.find((v) => v.get(stream)?.cluster?.leader)?.get(stream);
  const streamDetail = leaderView(anyView?.cluster?.leader)?.get(stream);
  assert.ok(streamDetail, `${stream} has a leader that reports it (${anyView?.cluster?.leader})`);
  const consumerLeader = streamDetail.consumer_detail?.find((c) => c.name === consumer)?.cluster?.leader;
  const consumerDetail = leaderView(consumerLeader)
    ?.get(stream)
    ?.consumer_detail?.find((c) => c.name === consumer);
  assert.ok(
    consumerDetail,
    `${stream}'s consumer ${consumer} has a leader that reports it (${consumerLeader})`,
  );
  return { stream: streamDetail, consumer: consumerDetail };
}

interface LogEntry {
  time: string;
  msg?: string;
  executionId?: string;
  status?: string;
}

async function logEntries(name: string): Promise<LogEntry[]> {
  return (await readFile(logFile(name), 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogEntry);
}

/** The runner's processes of one service or of NATS: `worker`, `worker-2`, … */
const processNames = (group: string) =>
  defineComponents(settings)
    .filter((component) => component.group === group)
    .map((component) => component.name);

/** Executions requested (by the api and every dispatcher) and finished (by every worker), from the logs. */
async function executionLedger(): Promise<{ requested: string[]; finished: Map<string, string[]> }> {
  const requesters = ['api', ...processNames('trigger-dispatcher')];
  const requested = (await Promise.all(requesters.map(logEntries)))
    .flat()
    .filter((e) => e.msg === 'execution requested')
    .map((e) => e.executionId as string);
  const finished = new Map<string, string[]>();
  for (const worker of processNames('worker')) {
    for (const entry of await logEntries(worker)) {
      if (entry.msg !== 'execution finished') continue;
      const id = entry.executionId as string;
      finished.set(id, [...(finished.get(id) ?? []), worker]);
    }
  }
  return { requested, finished };
}

/** Waits until every requested execution has finished, then returns those finished more than once. */
async function everyExecutionFinishedOnce(what: string): Promise<{ requested: number; twice: string[] }> {
  const ledger = await eventually(
    `every requested execution finished (${what})`,
    async () => {
      const current = await executionLedger();
      return current.requested.every((id) => current.finished.has(id)) ? current : undefined;
    },
    // A message on a killed worker comes back after the consumer's ack wait (30 s).
    { timeoutMs: 120_000, intervalMs: 2_000 },
  );
  const twice = [...ledger.finished].filter(([, by]) => by.length > 1).map(([id]) => id);
  return { requested: ledger.requested.length, twice };
}

interface LoadReport {
  requests: number;
  failed: number;
  longestFailingMs: number;
}

/**
 * Requests against the api until stopped, each one reading or writing NATS: the portfolio
 * (a key-value read) and manual executions (lock, record, work-queue publish). A 409 (the
 * pipeline is still running) is an answer; a 5xx or no answer is a failure. The longest
 * failing stretch runs from the start of a failed request to the start of the next one that
 * succeeds.
 */
function driveLoad(pipelineIds: readonly string[]): { stop(): Promise<LoadReport> } {
  let running = true;
  let requests = 0;
  let failed = 0;
  let failingSince: number | undefined;
  let longestFailingMs = 0;
  const one = async (request: () => Promise<Response>) => {
    const startedAt = Date.now();
    requests += 1;
    const ok = await request().then(
      async (response) => {
        await response.body?.cancel();
        return response.status < 500;
      },
      () => false,
    );
    if (ok) {
      if (failingSince !== undefined) longestFailingMs = Math.max(longestFailingMs, startedAt - failingSince);
      failingSince = undefined;
    } else {
      failed += 1;
      failingSince ??= startedAt;
    }
  };
  const loop = (async () => {
    for (let i = 0; running; i += 1) {
      const id = pipelineIds[i % pipelineIds.length] as string;
      await Promise.all([
        one(() => call('GET', '/portfolio')),
        one(() => call('POST', `/pipelines/${id}/executions`)),
        sleep(100),
      ]);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (failingSince !== undefined)
        longestFailingMs = Math.max(longestFailingMs, Date.now() - failingSince);
      return { requests, failed, longestFailingMs };
    },
  };
}

async function createPipelines(count: number, prefix: string, signals: boolean): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const response = await call('POST', '/pipelines', {
      name: `${prefix} ${i}`,
      strategy: 'momentum',
      symbols: ['BTCUSD', 'ETHUSD', 'SOLUSD', 'AAPL', 'MSFT'],
      // Signal-triggered ones take every signal; manual-only ones none (no signal is that sure).
      signalFilter: signals ? { minConfidence: 0 } : { types: ['buy'], minConfidence: 1 },
    });
    assert.equal(response.status, 201);
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}

describe(
  'scaled out: a three-node NATS cluster, two workers, two dispatchers',
  { timeout: 20 * 60_000 },
  () => {
    let manualPipelines: string[] = [];

    before(async () => {
      await useTemporaryStackState();
      Object.assign(process.env, QUICK_EXPORT, QUICK_SIGNALS);
      await startStack(settings, [...infrastructure, ...services]);
      const statuses = await stackStatus(settings);
      assert.deepEqual(
        statuses.filter((s) => s.pid !== undefined && !s.healthy).map((s) => s.name),
        [],
        'every started process is healthy',
      );
      assert.deepEqual(
        statuses.filter((s) => s.group === 'worker' || s.group === 'nats').map((s) => s.name),
        ['nats', 'nats-2', 'nats-3', 'worker', 'worker-2'],
      );
      await createPipelines(4, 'scale-out signals', true);
      manualPipelines = await createPipelines(40, 'scale-out manual', false);
    });

    after(async () => {
      await stopStack(settings);
    });

    it('streams and buckets are kept by all three nodes, and both instances of each consumer share the work', async () => {
      assert.ok(
        (await fromLeaders('EXECUTIONS', 'worker')).stream.cluster?.leader,
        'the work queue has a leader',
      );
      for (const node of natsNodes(settings)) {
        const held = await streamsOn(node.monitorPort);
        for (const stream of ['SIGNALS', 'EXECUTIONS', 'DEADLETTER', 'KV_pipelines', 'KV_executions']) {
          assert.ok(held.has(stream), `${node.serverName} keeps a replica of ${stream}`);
        }
      }
      await eventually(
        'executions and signals handled by both instances',
        async () => {
          const workers = await query('sum by (instance) (pipeline_executions_total{job="worker"}) > 0');
          const dispatchers = await query(
            'sum by (instance) (signals_consumed_total{job="trigger-dispatcher"}) > 0',
          );
          return workers.length === 2 && dispatchers.length === 2 ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 2_000 },
      );
      await eventually(
        'Prometheus scraping the three nodes',
        async () => ((await total('count(up{job="nats"} == 1)')) === 3 ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 1_000 },
      );
    });

    it('a node SIGKILLed for 30 s under load: requests recover within the reconnect, nothing is lost or done twice, the replicas agree, NatsNodeDown fires and resolves', async (t) => {
      const leaderName = (await fromLeaders('EXECUTIONS', 'worker')).stream.cluster?.leader;
      const node = natsNodes(settings).find((n) => n.serverName === leaderName);
      assert.ok(node, `the work queue's leader ${leaderName} is one of the nodes`);
      const instance = `${LOOPBACK}:${node.monitorPort}`;
      const load = driveLoad(manualPipelines);
      // Stopped also when an assertion fails first, or the loop would keep the test running.
      t.after(() => load.stop());
      await sleep(5_000);
      const killedAt = Date.now();
      await kill(node.name);
      const fired = await eventually(
        'NatsNodeDown firing for the killed node',
        async () =>
          (await alertState('NatsNodeDown', `instance="${instance}"`)) === 'firing' ? Date.now() : undefined,
        { timeoutMs: 120_000, intervalMs: 1_000 },
      );
      await sleep(Math.max(0, killedAt + 30_000 - Date.now()));
      const downMs = Date.now() - killedAt;
      await startStack(settings, [node.name]);
      const resolved = await eventually(
        'NatsNodeDown resolved',
        async () => ((await alertState('NatsNodeDown', `instance="${instance}"`)) ? undefined : Date.now()),
        { timeoutMs: 120_000, intervalMs: 1_000 },
      );
      await sleep(10_000);
      const report = await load.stop();

      // Every signal generated reached the stream and was acknowledged by the dispatchers. The
      // generator stops first (it flushes its counters), so nothing is in flight while comparing.
      await stopStack(settings, ['signal-generator']);
      const signals = await eventually(
        'the dispatchers caught up with the signal stream',
        async () => {
          const { stream, consumer } = await fromLeaders('SIGNALS', 'trigger-dispatcher');
          const generated = await total('sum(signals_generated_total{job="signal-generator"})');
          const seen = {
            generated,
            stored: stream.state.last_seq,
            pending: consumer.num_pending,
            ackPending: consumer.num_ack_pending,
            ackFloor: consumer.ack_floor.stream_seq,
          };
          if (
            seen.pending === 0 &&
            seen.ackPending === 0 &&
            seen.ackFloor === seen.stored &&
            generated === seen.stored
          )
            return seen;
          // Thrown, not returned: on a timeout the last one says what was still apart.
          throw new Error(JSON.stringify(seen));
        },
        { timeoutMs: 90_000, intervalMs: 2_000 },
      );
      const signalRedeliveries = await total('sum(messages_redelivered_total{job="trigger-dispatcher"})');
      const executions = await everyExecutionFinishedOnce('after the node kill');

      // Each node's own replica of every bucket: the same messages, bytes, sequences and deletes.
      // Not the whole state: its consumer count is each node's view of the bucket's watchers, and
      // an empty bucket's first sequence is 0 on one node and 1 on another (nothing to point at).
      const replicas = await eventually(
        'the three replicas of every bucket identical',
        async () => {
          const views = await Promise.all(natsNodes(settings).map((n) => streamsOn(n.monitorPort)));
          const buckets = [...(views[0]?.keys() ?? [])].filter((name) => name.startsWith('KV_'));
          const data = (view: Map<string, StreamDetail>, bucket: string) => {
            const state = view.get(bucket)?.state;
            return state
              ? JSON.stringify([
                  state.messages,
                  state.bytes,
                  state.messages > 0 ? state.first_seq : 'empty',
                  state.last_seq,
                  state.num_deleted ?? 0,
                ])
              : 'missing';
          };
          const differing = buckets.filter((bucket) => new Set(views.map((v) => data(v, bucket))).size !== 1);
          if (buckets.length === Object.keys(platformBuckets).length && differing.length === 0)
            return buckets.map((b) => `${b} ${views[0]?.get(b)?.state.last_seq}`);
          // Thrown: on a timeout the last one says which replicas differ and how.
          throw new Error(
            JSON.stringify({
              buckets,
              differing: differing.map((b) => ({ bucket: b, nodes: views.map((v) => v.get(b)?.state) })),
            }),
          );
        },
        { timeoutMs: 60_000, intervalMs: 2_000 },
      );
      await startStack(settings, ['signal-generator']);

      process.stdout.write(
        `# node kill: ${node.serverName} (leader of EXECUTIONS) down ${(downMs / 1000).toFixed(1)} s; ` +
          `NatsNodeDown fired ${((fired - killedAt) / 1000).toFixed(1)} s after the kill and resolved ` +
          `${((resolved - killedAt - downMs) / 1000).toFixed(1)} s after the restart; ` +
          `${report.requests} requests, ${report.failed} failed, longest failing stretch ${report.longestFailingMs} ms; ` +
          `${signals.generated} signals generated, ${signals.stored} stored and acknowledged ` +
          `(${signalRedeliveries} redeliveries); ${executions.requested} executions requested, ` +
          `${executions.twice.length} finished twice; buckets: ${replicas.join(', ')}\n`,
      );
      // nats.js tries the next server every 500 ms, and JetStream elects new stream leaders a few
      // seconds after it notices the loss; a request caught in between is answered 503 and
      // retried by the caller. 10 s bounds both with room.
      assert.ok(report.longestFailingMs <= 10_000, `longest failing stretch ${report.longestFailingMs} ms`);
      assert.ok(report.requests > 100, 'the load ran throughout');
      assert.deepEqual(executions.twice, [], 'no execution finished twice');
      assert.ok(executions.requested > 0);
    });

    it('a worker SIGKILLed mid-burst: its executions are redelivered and finish once on the other; ServiceInstanceDown fires, ServiceDown does not', async () => {
      const redeliveries = () => total('sum(messages_redelivered_total{job="worker"})');
      const redeliveredBefore = await redeliveries();
      // An execution takes a few tens of milliseconds, so a worker killed at an arbitrary moment
      // mostly holds nothing. Frozen first (SIGSTOP), worker-2 keeps its pull requests open and
      // is handed its share of the burst, which it never acknowledges; then it is killed.
      await kill('worker-2', 'SIGSTOP');
      await Promise.all(
        manualPipelines.map(async (id, i) => {
          await sleep(i * 15);
          const response = await call('POST', `/pipelines/${id}/executions`);
          await response.body?.cancel();
        }),
      );
      const killedAt = Date.now();
      await kill('worker-2', 'SIGKILL');
      const executions = await everyExecutionFinishedOnce('after the worker kill');
      const redelivered = await eventually(
        "the survivor's redeliveries counted",
        async () => {
          const count = (await redeliveries()) - redeliveredBefore;
          if (count > 0) return count;
          throw new Error(`${count} redeliveries counted by the workers since the kill`);
        },
        { timeoutMs: 30_000, intervalMs: 2_000 },
      );

      const fired = await eventually(
        'ServiceInstanceDown firing for the worker',
        async () =>
          (await alertState('ServiceInstanceDown', 'job="worker"')) === 'firing' ? Date.now() : undefined,
        { timeoutMs: 180_000, intervalMs: 2_000 },
      );
      const servicePaged = await query(
        `max_over_time(ALERTS{alertname="ServiceDown", job="worker"}[${Math.ceil((Date.now() - killedAt) / 1000) + 30}s])`,
      );

      // The survivor's counter is exact; the killed one exported every 2 s, so what it did in its
      // last interval never left it. Signals keep making executions, and a counter reaches
      // Prometheus a few seconds after its log line: compared with the generator stopped.
      await stopStack(settings, ['signal-generator']);
      const counted = await eventually(
        "the survivor's counter caught up with its log",
        async () => {
          const { finished } = await executionLedger();
          const by = (name: string) =>
            [...finished.values()].filter((workers) => workers.includes(name)).length;
          const perInstance = await query('sum by (instance) (pipeline_executions_total{job="worker"})');
          const values = perInstance.map((s) => Number(s.value[1]));
          const survivor = by('worker');
          if (values.includes(survivor)) return { values, survivor, killed: by('worker-2') };
          throw new Error(
            `the survivor logged ${survivor} executions finished; the counters say ${values.join(', ')}`,
          );
        },
        { timeoutMs: 30_000, intervalMs: 2_000 },
      );
      const killedExported = counted.values.find((v) => v !== counted.survivor) ?? 0;
      await startStack(settings, ['worker-2', 'signal-generator']);

      process.stdout.write(
        `# worker kill: ${executions.requested} executions requested until the kill settled, ${executions.twice.length} finished twice; ` +
          `${redelivered} redelivered to the survivor; worker finished ${counted.survivor}, worker-2 ${counted.killed} ` +
          `(${killedExported} exported before the kill); ServiceInstanceDown fired ${((fired - killedAt) / 1000).toFixed(0)} s after the kill\n`,
      );
      assert.deepEqual(executions.twice, [], 'no execution finished twice');
      // Per instance: the survivor's counter is what it logged (checked above), the killed one's
      // what it exported before the kill, never more than it did.
      assert.equal(counted.values.length, 2, 'one series per worker instance');
      assert.ok(killedExported <= counted.killed, 'the killed worker never reported more than it did');
      assert.deepEqual(servicePaged, [], 'ServiceDown neither pending nor firing for the worker');
    });
  },
);
