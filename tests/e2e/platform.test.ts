/**
 * The trading platform end to end on the real stack: a manual execution and a generated
 * signal each form one trace through every service involved, found in Jaeger by id; the
 * platform's series are in Prometheus with the right labels; a restart of the api keeps its
 * pipelines and bots (they live in NATS key-value buckets).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { type ComponentName, infrastructure } from '../../infra/runner/components.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { logFile, startStack, stopStack } from '../../infra/runner/stack.ts';
import { buildSpanTree, fetchTrace, type SpanNode } from '../../infra/runner/trace.ts';
import { eventually } from '../support/poll.ts';
import { query } from '../support/prometheus.ts';
import { useTemporaryStackState } from '../support/stack.ts';

const services: ComponentName[] = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'];
const api = `http://${LOOPBACK}:${ports.api}`;

interface Execution {
  id: string;
  status: string;
  triggerMode: string;
  fills: unknown[];
}

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${api}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/** The trace as one tree: exactly one root, and the services and span names it holds. */
async function traceTree(traceId: string, services: string[]): Promise<{ root: SpanNode; all: SpanNode[] }> {
  return eventually(`trace ${traceId} with spans of ${services.join(', ')}`, async () => {
    const data = await fetchTrace(traceId);
    if (!data) return undefined;
    const roots = buildSpanTree(data);
    const all: SpanNode[] = [];
    const walk = (node: SpanNode): void => {
      all.push(node);
      node.children.forEach(walk);
    };
    roots.forEach(walk);
    const seen = new Set(all.map((node) => node.service));
    if (!services.every((service) => seen.has(service))) return undefined;
    assert.equal(roots.length, 1, `one tree, not ${roots.length}`);
    return { root: roots[0] as SpanNode, all };
  });
}

async function series(promql: string): Promise<Record<string, string>[]> {
  const result = await eventually(promql, async () => {
    const samples = await query(promql);
    return samples.length > 0 ? samples : undefined;
  });
  return result.map((sample) => sample.metric);
}

let pipelineId = '';

describe('the platform end to end', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    // Faster ticks, signals and exports than the demo's, so that the test sees them sooner.
    process.env.TICK_INTERVAL_MS = '200';
    process.env.SIGNAL_COOLDOWN_MS = '1000';
    process.env.OTEL_METRIC_EXPORT_INTERVAL = '2000';
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    await startStack(undefined, [...infrastructure, ...services]);
    const created = await call('POST', '/pipelines', {
      name: 'e2e momentum',
      strategy: 'momentum',
      symbols: ['BTCUSD', 'ETHUSD', 'SOLUSD', 'AAPL', 'MSFT'],
      signalFilter: { types: ['buy', 'sell'], minConfidence: 0 },
    });
    assert.equal(created.status, 201);
    pipelineId = (created.body as { id: string }).id;
  });

  after(async () => {
    await stopStack();
  });

  it('a manual execution is one trace from the api through the worker', async () => {
    const triggered = await eventually('the pipeline to be free', async () => {
      const answer = await call('POST', `/pipelines/${pipelineId}/executions`);
      return answer.status === 202 ? { ...answer, execution: answer.body as Execution } : undefined;
    });
    const traceId = triggered.headers.get('traceresponse')?.split('-')[1] ?? '';
    assert.match(traceId, /^[0-9a-f]{32}$/);
    const finished = await eventually('the execution to finish', async () => {
      const execution = (await call('GET', `/executions/${triggered.execution.id}`)).body as Execution;
      return ['succeeded', 'rejected', 'failed'].includes(execution.status) ? execution : undefined;
    });
    assert.notEqual(finished.status, 'failed');
    const { root, all } = await traceTree(traceId, ['api', 'worker']);
    assert.equal(root.name, 'POST /pipelines/:id/executions');
    const names = all.map((node) => `${node.service} ${node.name}`);
    assert.ok(names.includes('api publish executions.requests'), names.join('\n'));
    assert.ok(names.includes('worker process executions.requests'), names.join('\n'));
  });

  it('a generated signal is one trace from the signal generator through the dispatcher and the worker', async () => {
    const execution = await eventually(
      'an execution triggered by a signal',
      async () => {
        const answer = await call('GET', `/executions?pipelineId=${pipelineId}&limit=500`);
        return (answer.body as { items: Execution[] }).items.find(
          (e) => e.triggerMode === 'signal' && e.status !== 'queued' && e.status !== 'running',
        );
      },
      { timeoutMs: 120_000 },
    );
    // The worker's log line for the execution carries its trace id: logs lead to traces.
    const traceId = await eventually('the worker log line of the execution', async () => {
      // JSON lines only: the runner writes its own header lines into the log too.
      const lines = (await readFile(logFile('worker'), 'utf8'))
        .split('\n')
        .filter((line) => line.startsWith('{'));
      const line = lines
        .map((text) => JSON.parse(text) as { msg?: string; executionId?: string; trace_id?: string })
        .find((entry) => entry.msg === 'execution finished' && entry.executionId === execution.id);
      return line?.trace_id;
    });
    const { root, all } = await traceTree(traceId, ['signal-generator', 'trigger-dispatcher', 'worker']);
    assert.equal(root.service, 'signal-generator');
    const names = all.map((node) => `${node.service} ${node.name}`);
    for (const expected of [
      'signal-generator publish signals.*.*',
      'trigger-dispatcher process signals.*.*',
      'trigger-dispatcher publish executions.requests',
      'worker process executions.requests',
    ]) {
      assert.ok(names.includes(expected), `${expected} in\n${names.join('\n')}`);
    }
  });

  it("the platform's series are in Prometheus under each service's job with the expected labels", async () => {
    const checks: [string, Record<string, string>][] = [
      [
        `pipeline_executions_total{job="worker", trigger_mode="manual", pipeline_id="${pipelineId}"}`,
        { job: 'worker' },
      ],
      [
        `pipeline_executions_total{job="worker", trigger_mode="signal", pipeline_id="${pipelineId}"}`,
        { job: 'worker' },
      ],
      ['signals_generated_total{job="signal-generator", source="momentum"}', { job: 'signal-generator' }],
      [
        'pipelines_enqueued_total{job="trigger-dispatcher", trigger_mode="signal"}',
        { job: 'trigger-dispatcher' },
      ],
      ['pipelines_enqueued_total{job="api", trigger_mode="manual"}', { job: 'api' }],
      [
        'http_server_request_duration_seconds_count{job="api", http_route="/pipelines/:id/executions", http_request_method="POST", http_response_status_code="202"}',
        { job: 'api' },
      ],
      [
        'messaging_client_consumed_messages_total{job="worker", messaging_destination_template="executions.requests", messaging_consumer_group_name="worker", messaging_operation_name="process", messaging_system="nats"}',
        { job: 'worker', server_address: LOOPBACK, server_port: String(ports.natsClient) },
      ],
      [
        'market_data_updates_total{job="signal-generator", symbol="BTCUSD", source="simulated"}',
        { job: 'signal-generator' },
      ],
      ['portfolio_total_value_usd{job="worker"}', { job: 'worker' }],
      ['trading_bots_active_total{job="api", status="running"}', { job: 'api' }],
      ['jetstream_consumer_pending{job="worker", stream="EXECUTIONS", consumer="worker"}', { job: 'worker' }],
      ['process_uptime_seconds{job="trigger-dispatcher"}', { job: 'trigger-dispatcher' }],
      [
        'traces_span_metrics_calls_total{service_name="worker", span_name="process executions.requests", messaging_destination_template="executions.requests"}',
        { service_name: 'worker' },
      ],
    ];
    for (const [promql, labels] of checks) {
      const found = await series(promql);
      for (const [key, value] of Object.entries(labels)) assert.equal(found[0]?.[key], value, promql);
    }
    // The concrete subject (messaging.destination.name) is a span attribute only: no series carries it.
    assert.deepEqual(
      await query('{__name__=~"messaging_.+|traces_span_metrics_.+", messaging_destination_name!=""}'),
      [],
    );
    const routes = await series(
      'count by (http_route) (http_server_request_duration_seconds_count{job="api"})',
    );
    assert.ok(
      routes.every((labels) => !labels.http_route?.includes(pipelineId)),
      'route templates, never raw paths, as label values',
    );
  });

  it('the api streams live prices over WebSocket and counts the connection', async () => {
    const socket = new WebSocket(`ws://${LOOPBACK}:${ports.api}/ws/prices?symbols=ETHUSD`);
    const tick = await new Promise<{ symbol: string; price: number }>((resolve, reject) => {
      socket.addEventListener('message', (event) => {
        resolve(JSON.parse(String(event.data)) as { symbol: string; price: number });
      });
      socket.addEventListener('error', () => reject(new Error('websocket failed')));
    });
    assert.equal(tick.symbol, 'ETHUSD');
    assert.ok(tick.price > 0);
    await eventually('one open connection in Prometheus', async () => {
      const [sample] = await query('websocket_connections_active{job="api", endpoint="/ws/prices"}');
      return sample?.value[1] === '1' ? true : undefined;
    });
    socket.close();
    const refused = new WebSocket(`ws://${LOOPBACK}:${ports.api}/ws/prices?symbols=DOGEUSD`);
    await new Promise<void>((resolve) => {
      refused.addEventListener('error', () => resolve());
    });
  });

  it('a restart of the api keeps its pipelines and bots', async () => {
    const created = await call('POST', '/bots', { name: 'e2e bot', pipelineId, symbol: 'BTCUSD' });
    assert.equal(created.status, 201);
    const bot = created.body as { id: string };
    assert.equal((await call('POST', `/bots/${bot.id}/start`)).status, 200);
    await stopStack(undefined, ['api']);
    await startStack(undefined, ['api']);
    assert.equal(((await call('GET', `/pipelines/${pipelineId}`)).body as { id: string }).id, pipelineId);
    const restored = await call('GET', `/bots/${bot.id}`);
    assert.equal(restored.status, 200);
    assert.equal((restored.body as { status: string }).status, 'running');
  });
});
