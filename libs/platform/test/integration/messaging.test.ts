/**
 * The platform's storage and consumption rules against a real NATS server: compare-and-set
 * on key-value entries, the running lock and JetStream de-duplication of the execution queue,
 * redelivery after a failure, and dead-lettering of malformed and repeatedly failing messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsMsg } from '@nats-io/jetstream';
import { z } from 'zod';
import { infrastructure } from '../../../../infra/runner/components.ts';
import { LOOPBACK, ports } from '../../../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../../../infra/runner/stack.ts';
import { useTemporaryStackState } from '../../../../tests/support/stack.ts';
import {
  handleMessage,
  isRevisionConflict,
  maxDeliveries,
  openExecutionQueue,
  openStore,
  type Outcome,
  type Pipeline,
  streams,
} from '../../src/index.ts';
import { type TestContext, testContext } from '../../src/testing.ts';

let harness: TestContext;

before(async () => {
  await useTemporaryStackState();
  assert.ok(infrastructure.includes('nats'));
  await startStack(undefined, ['nats']);
  harness = await testContext(`nats://${LOOPBACK}:${ports.natsClient}`);
});

after(async () => {
  await harness.close();
  await stopStack();
});

const Counter = z.object({ id: z.string(), count: z.number() });

describe('key-value store', () => {
  it('refuses a create over an existing key and an update from a stale revision', async () => {
    const store = await openStore(harness.context, 'bots', Counter);
    const first = await store.create('c1', { id: 'c1', count: 0 });
    await assert.rejects(store.create('c1', { id: 'c1', count: 9 }), isRevisionConflict);
    await store.update('c1', { id: 'c1', count: 1 }, first);
    await assert.rejects(store.update('c1', { id: 'c1', count: 2 }, first), isRevisionConflict);
    assert.equal((await store.get('c1'))?.value.count, 1);
    const operations = await harness.points('kv.operations');
    assert.ok(
      operations.some((p) => p.attributes.operation === 'update' && p.attributes.status === 'conflict'),
    );
  });

  it('modify() loses no update when writers race', async () => {
    const store = await openStore(harness.context, 'bots', Counter);
    const increment = () => store.modify('race', (c) => ({ id: 'race', count: (c?.count ?? 0) + 1 }), 100);
    await Promise.all(Array.from({ length: 30 }, increment));
    assert.equal((await store.get('race'))?.value.count, 30);
  });
});

describe('execution queue', () => {
  const pipeline: Pipeline = {
    id: 'queue-test',
    name: 'q',
    strategy: 'momentum',
    symbols: ['BTCUSD'],
    enabled: true,
    signalFilter: { types: ['buy'], minConfidence: 0 },
    riskLimits: { maxOrderUsd: 1, maxPositionUsd: 1, maxDrawdown: 0.5 },
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };

  it('queues once per pipeline until the lock is released, and never twice for the same id', async () => {
    const queue = await openExecutionQueue(harness.context);
    const before = (await harness.context.jsm.streams.info(streams.executions.name)).state.messages;
    const first = await queue.enqueue(pipeline, { mode: 'manual', executionId: 'e-1' });
    assert.equal(first.outcome, 'enqueued');
    assert.equal((await queue.enqueue(pipeline, { mode: 'manual', executionId: 'e-2' })).outcome, 'running');
    await queue.locks.delete(pipeline.id);
    // The same id while its record is still queued: a retry after a publish that failed, so
    // published again, and the message id keeps the stream from holding it twice.
    assert.equal((await queue.enqueue(pipeline, { mode: 'signal', executionId: 'e-1' })).outcome, 'enqueued');
    assert.equal(
      (await harness.context.jsm.streams.info(streams.executions.name)).state.messages,
      before + 1,
    );
    // Once a worker has claimed it, the same id is a duplicate.
    await queue.locks.delete(pipeline.id);
    const stored = await queue.executions.get('e-1');
    assert.ok(stored);
    await queue.executions.update('e-1', { ...stored.value, status: 'running' }, stored.revision);
    assert.equal(
      (await queue.enqueue(pipeline, { mode: 'signal', executionId: 'e-1' })).outcome,
      'duplicate',
    );
    assert.equal(await queue.locks.get(pipeline.id), undefined, 'a duplicate leaves the pipeline free');
  });
});

describe('consuming with handleMessage', () => {
  const Job = z.object({ n: z.number() });

  async function consumeUntil(
    subject: string,
    durable: string,
    handle: (value: z.infer<typeof Job>, message: JsMsg) => Promise<void>,
    stopWhen: (outcomes: Outcome[]) => boolean,
  ): Promise<Outcome[]> {
    const { jsm, js } = harness.context;
    await jsm.streams.add({ name: durable.toUpperCase(), subjects: [subject] });
    await jsm.consumers.add(durable.toUpperCase(), {
      durable_name: durable,
      ack_policy: 'explicit',
      max_deliver: maxDeliveries,
      ack_wait: 30e9,
    });
    const consumer = await js.consumers.get(durable.toUpperCase(), durable);
    const messages = await consumer.consume();
    const outcomes: Outcome[] = [];
    const deadline = setTimeout(() => void messages.close(), 20_000);
    for await (const message of messages) {
      outcomes.push(await handleMessage(harness.context, message, { schema: Job, source: durable, handle }));
      if (stopWhen(outcomes)) break;
    }
    clearTimeout(deadline);
    await messages.close();
    return outcomes;
  }

  async function deadLetters(source: string): Promise<{ reason: string; data: string }[]> {
    const found: { reason: string; data: string }[] = [];
    const info = await harness.context.jsm.streams.info(streams.deadLetters.name);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq += 1) {
      const stored = await harness.context.jsm.streams
        .getMessage(streams.deadLetters.name, { seq })
        .catch(() => null);
      if (stored?.subject === `deadletter.${source}`) {
        found.push({
          reason: stored.header.get('Dead-Letter-Reason'),
          data: new TextDecoder().decode(stored.data),
        });
      }
    }
    return found;
  }

  it('dead-letters a malformed message at once, with its reason, and does not redeliver it', async () => {
    const consuming = consumeUntil(
      'malformed.test',
      'malformed',
      () => Promise.resolve(),
      (o) => o.length >= 1,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await harness.context.js.publish('malformed.test', 'not json');
    const outcomes = await consuming;
    assert.deepEqual(outcomes, ['dead_lettered']);
    assert.deepEqual(await deadLetters('malformed'), [{ reason: 'malformed', data: 'not json' }]);
    const counted = await harness.points('messages.dead_lettered');
    assert.ok(
      counted.some(
        (p) => p.attributes.reason === 'malformed' && p.attributes.destination === 'malformed.test',
      ),
    );
  });

  it('retries a failed message and counts the redelivery; gives up to the dead-letter stream after the last attempt', async () => {
    let attempts = 0;
    const consuming = consumeUntil(
      'flaky.test',
      'flaky',
      (value) => {
        attempts += 1;
        if (value.n === 1 && attempts === 1) return Promise.reject(new Error('transient'));
        if (value.n === 2) return Promise.reject(new Error('always fails'));
        return Promise.resolve();
      },
      (o) => o.filter((x) => x !== 'retry').length >= 2,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await harness.context.js.publish('flaky.test', JSON.stringify({ n: 1 }));
    await harness.context.js.publish('flaky.test', JSON.stringify({ n: 2 }));
    const outcomes = await consuming;
    assert.equal(outcomes.filter((o) => o === 'handled').length, 1);
    assert.equal(outcomes.filter((o) => o === 'dead_lettered').length, 1);
    assert.equal(outcomes.filter((o) => o === 'retry').length, 1 + (maxDeliveries - 1));
    assert.deepEqual(
      (await deadLetters('flaky')).map((d) => d.reason),
      ['failed'],
    );
    const redelivered = await harness.points('messages.redelivered');
    assert.equal(
      redelivered.reduce((sum, p) => sum + (p.value as number), 0),
      maxDeliveries,
    );
  });
});
