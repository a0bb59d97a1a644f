/**
 * The exporter against a real NATS server started by the stack runner: a stream, a consumer with
 * pending and unacknowledged messages, and a key-value bucket show up with their values and the
 * maintained exporter's labels; once the node is stopped, its scrape is a 503 (up=0 in Prometheus).
 * The exporter runs in-process on port 0, so this does not need the runner's nats-exporter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { LOOPBACK, ports } from '../../../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../../../infra/runner/stack.ts';
import { useTemporaryStackState } from '../../../../tests/support/stack.ts';
import { eventually } from '../../../../tests/support/poll.ts';
import { startExporter, type Exporter } from '../../src/server.ts';

const target = `${LOOPBACK}:${ports.natsMonitor}`;
let exporter: Exporter;
let nc: NatsConnection | undefined;

/** The value of the one sample of `name` whose label text contains every one of `labels`. */
function sample(text: string, name: string, ...labels: string[]): string | undefined {
  const lines = text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  assert.ok(lines.length <= 1, `at most one ${name} ${labels.join(' ')}: ${lines.join('\n')}`);
  return lines[0]?.split(' ').at(-1);
}

async function scrape(): Promise<{ status: number; body: string }> {
  const response = await fetch(`${exporter.url}/metrics?target=${target}`);
  return { status: response.status, body: await response.text() };
}

describe('nats-exporter against a real NATS server', { timeout: 120_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    await startStack(undefined, ['nats']);
    exporter = await startExporter({ port: 0, host: LOOPBACK, targets: [target] });
    nc = await connect({ servers: `${LOOPBACK}:${ports.natsClient}` });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'EXPORTER_TEST', subjects: ['exporter-test.>'] });
    await jsm.consumers.add('EXPORTER_TEST', {
      durable_name: 'reader',
      ack_policy: AckPolicy.Explicit,
      description: 'reads "test" messages',
    });
    const js = jetstream(nc);
    for (let i = 0; i < 5; i++) await js.publish('exporter-test.a', String(i));
    const consumer = await js.consumers.get('EXPORTER_TEST', 'reader');
    const messages = await consumer.fetch({ max_messages: 3, expires: 2000 });
    let fetched = 0;
    for await (const m of messages) if (fetched++ === 0) m.ack();
    const kv = await new Kvm(nc).create('exporter_test');
    await kv.put('k', 'v');
  });

  after(async () => {
    await nc?.close();
    await exporter.close();
    await stopStack();
  });

  it('answers the node, its stream, consumer and key-value bucket', async () => {
    const varz = (await (await fetch(`http://${target}/varz`)).json()) as { server_name: string };
    const server = `server_id="${varz.server_name}"`;
    const stream = 'stream_name="EXPORTER_TEST"';
    const body = await eventually('the consumer state in the scrape', async () => {
      const { status, body } = await scrape();
      assert.equal(status, 200, body);
      return sample(body, 'jetstream_consumer_num_ack_pending', stream) === '2' ? body : undefined;
    });
    assert.equal(sample(body, 'gnatsd_healthz_status', server), '0');
    assert.ok(Number(sample(body, 'gnatsd_varz_connections', server)) >= 1);
    assert.ok(Number(sample(body, 'gnatsd_varz_in_msgs', server)) >= 5);
    assert.equal(sample(body, 'jetstream_server_jetstream_disabled', server, 'is_meta_leader="true"'), '0');
    assert.equal(sample(body, 'jetstream_stream_total_messages', stream, 'is_stream_leader="true"'), '5');
    assert.equal(sample(body, 'jetstream_stream_last_seq', stream), '5');
    assert.equal(sample(body, 'jetstream_stream_replicas', stream), '1');
    const consumer = [stream, 'consumer_name="reader"', 'consumer_desc="reads \\"test\\" messages"'];
    assert.equal(sample(body, 'jetstream_consumer_num_pending', ...consumer), '2');
    assert.equal(sample(body, 'jetstream_consumer_delivered_stream_seq', ...consumer), '3');
    assert.equal(sample(body, 'jetstream_consumer_ack_floor_stream_seq', ...consumer), '1');
    assert.equal(sample(body, 'jetstream_stream_total_messages', 'stream_name="KV_exporter_test"'), '1');
  });

  it('answers 503 once the node is stopped', async () => {
    await nc?.close();
    nc = undefined;
    await stopStack(undefined, ['nats']);
    const { status, body } = await scrape();
    assert.equal(status, 503);
    assert.match(body, new RegExp(`^NATS node ${target} cannot be scraped: .*ECONNREFUSED`));
  });
});
