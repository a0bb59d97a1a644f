/**
 * The worker's exactly-once rule against a real NATS server: the same execution request
 * delivered twice places its orders once, and a request found mid-run on redelivery (its worker
 * died) is failed rather than run again, and a claim that loses its compare-and-set on a stale
 * read is decided on a fresh one, and a delivery that failed after writing the final record is
 * finished (lock, count, log) by the next one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ExecutionQueue,
  type ExecutionRequest,
  mirror,
  openBots,
  openExecutionQueue,
  openPipelines,
  openPortfolio,
  type Pipeline,
  portfolioKey,
  type PriceHistory,
} from '@tradeobs/platform';
import { type TestContext, testContext } from '@tradeobs/platform/testing';
import { LOOPBACK, ports } from '../../../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../../../infra/runner/stack.ts';
import { useTemporaryStackState } from '../../../../tests/support/stack.ts';
import { Executor } from '../../src/executor.ts';

let harness: TestContext;
let executor: Executor;
let executorOn: (view: ExecutionQueue) => Executor;
let queue: Awaited<ReturnType<typeof openExecutionQueue>>;

const market: PriceHistory = {
  prices: () => Array.from({ length: 30 }, (_, i) => 100 + i),
  latest: () => 129,
};
const now = new Date().toISOString();
const pipeline: Pipeline = {
  id: 'exactly-once',
  name: 'exactly once',
  strategy: 'momentum',
  symbols: ['BTCUSD'],
  enabled: true,
  signalFilter: { types: ['buy', 'sell'], minConfidence: 0 },
  riskLimits: { maxOrderUsd: 1_000, maxPositionUsd: 1_000_000, maxDrawdown: 0.5 },
  createdAt: now,
  updatedAt: now,
};

before(async () => {
  await useTemporaryStackState();
  await startStack(undefined, ['nats']);
  harness = await testContext(`nats://${LOOPBACK}:${ports.natsClient}`, 'worker-test');
  const { context } = harness;
  queue = await openExecutionQueue(context);
  const [pipelines, portfolio, bots] = await Promise.all([
    openPipelines(context),
    openPortfolio(context),
    openBots(context),
  ]);
  await pipelines.put(pipeline.id, pipeline);
  const botMirror = mirror(bots, context.telemetry.logger, context.stopping);
  await botMirror.loaded;
  executorOn = (view) =>
    new Executor({
      telemetry: context.telemetry,
      queue: view,
      pipelines,
      portfolio,
      bots,
      botMirror,
      market,
      venue: { rejectionRate: 0, maxSlippageBps: 1_000 },
      durationByPipeline: false,
    });
  executor = executorOn(queue);
});

after(async () => {
  await harness.close();
  await stopStack();
});

async function executionsCounted(status: string): Promise<number> {
  const points = await harness.points('pipeline.executions');
  return points
    .filter((p) => p.attributes.status === status)
    .reduce((sum, p) => sum + (p.value as number), 0);
}

describe('worker executes each request once', () => {
  it('a request delivered twice places its order once', async () => {
    const queued = await queue.enqueue(pipeline, { mode: 'manual', executionId: 'twice' });
    assert.equal(queued.outcome, 'enqueued');
    const request: ExecutionRequest = {
      executionId: 'twice',
      pipelineId: pipeline.id,
      triggerMode: 'manual',
      requestedAt: now,
    };
    await executor.run(request, 1);
    await executor.run(request, 2);
    const stored = await queue.executions.get('twice');
    assert.equal(stored?.value.status, 'succeeded');
    assert.equal(stored?.value.fills.length, 1);
    assert.equal(await executionsCounted('succeeded'), 1);
    const orders = await harness.points('orders.placed');
    assert.equal(
      orders.reduce((sum, p) => sum + (p.value as number), 0),
      1,
    );
    const portfolio = await openPortfolio(harness.context);
    assert.ok(
      (await portfolio.get(portfolioKey))?.value.positions.BTCUSD,
      'the one fill is in the portfolio',
    );
    assert.equal(await queue.locks.get(pipeline.id), undefined, 'the pipeline is free again');
  });

  it('a request found running on redelivery was interrupted: it is failed, not run again', async () => {
    await queue.enqueue(pipeline, { mode: 'manual', executionId: 'interrupted' });
    const stored = await queue.executions.get('interrupted');
    assert.ok(stored);
    await queue.executions.update('interrupted', { ...stored.value, status: 'running' }, stored.revision);
    await executor.run(
      { executionId: 'interrupted', pipelineId: pipeline.id, triggerMode: 'manual', requestedAt: now },
      2,
    );
    const after = await queue.executions.get('interrupted');
    assert.equal(after?.value.status, 'failed');
    assert.match(after?.value.reasons.join(' ') ?? '', /interrupted/);
    assert.equal(await queue.locks.get(pipeline.id), undefined);
  });
  it('a claim that loses its compare-and-set on a stale read reads again and runs the execution once', async () => {
    await queue.enqueue(pipeline, { mode: 'manual', executionId: 'stale-read' });
    const stale = await queue.executions.get('stale-read');
    assert.ok(stale);
    // The record moves on (still queued) after the worker's read: what a follower replica that
    // had not applied the latest write answered on a three-node cluster.
    await queue.executions.put('stale-read', stale.value);
    let staleReads = 1;
    const executions = new Proxy(queue.executions, {
      get(target, property) {
        if (property === 'get' && staleReads-- > 0) return () => Promise.resolve(stale);
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await executorOn({ ...queue, executions }).run(
      { executionId: 'stale-read', pipelineId: pipeline.id, triggerMode: 'manual', requestedAt: now },
      1,
    );
    const after = await queue.executions.get('stale-read');
    assert.equal(staleReads, -1, 'the stale read was used, then a fresh one');
    assert.equal(after?.value.status, 'succeeded');
    assert.equal(after?.value.fills.length, 1);
    assert.equal(await queue.locks.get(pipeline.id), undefined);
  });

  it('a delivery that fails after writing the final record is finished by the redelivery: lock released, counted once', async () => {
    await queue.enqueue(pipeline, { mode: 'manual', executionId: 'half-finished' });
    const counted = await executionsCounted('succeeded');
    // The lock read after the final record times out, as it did while a cluster node was down.
    const locks = new Proxy(queue.locks, {
      get(target, property) {
        if (property === 'get') return () => Promise.reject(new Error('timeout'));
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const request: ExecutionRequest = {
      executionId: 'half-finished',
      pipelineId: pipeline.id,
      triggerMode: 'manual',
      requestedAt: now,
    };
    await assert.rejects(executorOn({ ...queue, locks }).run(request, 1), /timeout/);
    assert.equal((await queue.executions.get('half-finished'))?.value.status, 'succeeded');
    assert.ok(await queue.locks.get(pipeline.id), 'the lock is still held');
    await executor.run(request, 2);
    assert.equal(await queue.locks.get(pipeline.id), undefined, 'the pipeline is free again');
    assert.equal((await queue.executions.get('half-finished'))?.value.fills.length, 1, 'traded once');
    assert.equal(await executionsCounted('succeeded'), counted + 1);
    await executor.run(request, 3);
    assert.equal(await executionsCounted('succeeded'), counted + 1, 'a third delivery is a duplicate');
  });
});
