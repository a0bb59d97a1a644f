/**
 * The renderer on monitoring JSON captured from real nats-server 2.9.10 processes (test/fixtures/):
 *
 * - single-*: one node with JetStream, stream SIGNALS (10 messages) with the durable pull consumer
 *   trigger-dispatcher (4 delivered, 2 acknowledged), and key-value bucket pipelines (stream
 *   KV_pipelines, 2 keys), while one client was connected.
 * - cluster-nats-{1,2,3}-*: the same on a 3-node cluster (trading-local), both streams with 3
 *   replicas; meta leader nats-2, SIGNALS led by nats-3, KV_pipelines by nats-2.
 * - degraded-nats-3-*: nats-3 about 40 s after nats-1 was stopped and 5 more messages were
 *   published to SIGNALS.
 * - noquorum-nats-3-*: nats-3 alone, after nats-2 was stopped too (no meta leader; /healthz
 *   answered HTTP 503).
 * - nojs-*: a node without JetStream.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { render } from '../src/exposition.ts';
import { renderNode, type Healthz, type Jsz, type Varz } from '../src/metrics.ts';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}.json`, import.meta.url), 'utf8'));
}

function node(prefix: string): { varz: Varz; healthz: Healthz; jsz: Jsz } {
  return {
    varz: fixture(`${prefix}-varz`) as Varz,
    healthz: fixture(`${prefix}-healthz`) as Healthz,
    jsz: fixture(`${prefix}-jsz`) as Jsz,
  };
}

interface Line {
  name: string;
  labels: Record<string, string>;
  value: string;
}

/** A strict reader of the text format: HELP and TYPE once per name, before its samples. */
function parse(text: string): Line[] {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  const lines: Line[] = [];
  const described = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      const [, kind = '', name = '', rest = ''] = comment;
      const kinds = described.get(name) ?? [];
      assert.ok(!kinds.includes(kind), `one ${kind} for ${name}`);
      assert.ok(!lines.some((l) => l.name === name), `${kind} of ${name} before its samples`);
      if (kind === 'TYPE') assert.equal(rest, 'gauge', `${name} is a gauge`);
      described.set(name, [...kinds, kind]);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    const [, name = '', labelText = '', value = ''] = sample;
    assert.deepEqual(described.get(name), ['HELP', 'TYPE'], `HELP and TYPE for ${name}`);
    assert.match(value, /^(?:-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|[+-]Inf)$/, `a value: ${line}`);
    const labels: Record<string, string> = {};
    const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    while (pair.lastIndex < labelText.length) {
      const match = pair.exec(labelText);
      assert.ok(match, `labels of ${line}`);
      const [, label = '', escaped = ''] = match;
      labels[label] = escaped.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const key = `${name}${JSON.stringify(labels)}`;
    assert.ok(!seen.has(key), `one series ${key}`);
    seen.add(key);
    lines.push({ name, labels, value });
  }
  return lines;
}

/** The samples of `name` whose labels include `labels`. */
function find(lines: Line[], name: string, labels: Record<string, string> = {}): Line[] {
  return lines.filter((l) => l.name === name && Object.entries(labels).every(([k, v]) => l.labels[k] === v));
}

/** The one value of `name` with `labels`. */
function value(lines: Line[], name: string, labels: Record<string, string> = {}): string {
  const found = find(lines, name, labels);
  assert.equal(found.length, 1, `one ${name} ${JSON.stringify(labels)}, got ${found.length}`);
  return found[0]?.value ?? '';
}

const SERVER_LABELS = ['server_id', 'server_name', 'cluster', 'domain', 'meta_leader', 'is_meta_leader'];
const STREAM_LABELS = [
  ...SERVER_LABELS,
  'account',
  'account_name',
  'account_id',
  'stream_name',
  'stream_leader',
  'is_stream_leader',
  'stream_raft_group',
];
const CONSUMER_LABELS = [
  ...STREAM_LABELS,
  'consumer_name',
  'consumer_leader',
  'is_consumer_leader',
  'consumer_desc',
];

describe('renderNode on a single node (nats-server 2.9.10)', () => {
  const lines = parse(renderNode(node('single')));

  it('exports the /varz numbers under server_id = server_name', () => {
    const expected = {
      connections: '1',
      routes: '0',
      subscriptions: '55',
      slow_consumers: '0',
      in_msgs: '5',
      out_msgs: '5',
      in_bytes: '500',
      out_bytes: '500',
      mem: '12845056',
      cpu: '1',
    };
    for (const [field, v] of Object.entries(expected)) {
      const [line] = find(lines, `gnatsd_varz_${field}`);
      assert.deepEqual(line, { name: `gnatsd_varz_${field}`, labels: { server_id: 'nats-1' }, value: v });
    }
    assert.equal(lines.filter((l) => l.name.startsWith('gnatsd_varz_')).length, 10, 'ten /varz gauges');
  });

  it('healthy: gnatsd_healthz_status 0 (the maintained exporter: 0 is ok), status_value 1', () => {
    assert.equal(value(lines, 'gnatsd_healthz_status', { server_id: 'nats-1' }), '0');
    assert.equal(value(lines, 'gnatsd_healthz_status_value', { server_id: 'nats-1', value: 'ok' }), '1');
  });

  it('server metrics: not clustered, so its own meta leader with empty cluster and meta_leader', () => {
    const server = {
      server_id: 'nats-1',
      server_name: 'nats-1',
      cluster: '',
      domain: '',
      meta_leader: '',
      is_meta_leader: 'true',
    };
    const [streams] = find(lines, 'jetstream_server_total_streams');
    assert.deepEqual(streams?.labels, server);
    assert.deepEqual(Object.keys(streams?.labels ?? {}), SERVER_LABELS, 'label order of the maintained one');
    assert.equal(streams?.value, '2');
    assert.equal(value(lines, 'jetstream_server_total_consumers', server), '1');
    assert.equal(value(lines, 'jetstream_server_total_messages', server), '12');
    assert.equal(value(lines, 'jetstream_server_total_message_bytes', server), '640');
    assert.equal(value(lines, 'jetstream_server_jetstream_disabled', server), '0');
    assert.deepEqual(find(lines, 'jetstream_meta_cluster_size'), []);
    assert.deepEqual(find(lines, 'jetstream_meta_peer_current'), []);
  });

  it('stream metrics, the key-value bucket among them, led by the node itself and without replicas', () => {
    const [signals] = find(lines, 'jetstream_stream_total_messages', { stream_name: 'SIGNALS' });
    assert.deepEqual(Object.keys(signals?.labels ?? {}), STREAM_LABELS);
    assert.deepEqual(signals?.labels, {
      server_id: 'nats-1',
      server_name: 'nats-1',
      cluster: '',
      domain: '',
      meta_leader: '',
      is_meta_leader: 'true',
      account: '$G',
      account_name: '$G',
      account_id: '$G',
      stream_name: 'SIGNALS',
      stream_leader: 'nats-1',
      is_stream_leader: 'true',
      stream_raft_group: '',
    });
    assert.equal(signals?.value, '10');
    const stream = { stream_name: 'SIGNALS' };
    assert.equal(value(lines, 'jetstream_stream_total_bytes', stream), '520');
    assert.equal(value(lines, 'jetstream_stream_first_seq', stream), '1');
    assert.equal(value(lines, 'jetstream_stream_last_seq', stream), '10');
    assert.equal(value(lines, 'jetstream_stream_consumer_count', stream), '1');
    assert.equal(value(lines, 'jetstream_stream_replicas', stream), '1');
    const kv = { stream_name: 'KV_pipelines' };
    assert.equal(value(lines, 'jetstream_stream_total_messages', kv), '2');
    assert.equal(value(lines, 'jetstream_stream_consumer_count', kv), '0');
    assert.equal(value(lines, 'jetstream_stream_replicas', kv), '1');
    assert.deepEqual(find(lines, 'jetstream_stream_replica_current'), []);
    assert.deepEqual(find(lines, 'jetstream_stream_replica_lag'), []);
  });

  it('consumer metrics, with the description escaped and leader labels of a single node', () => {
    const [pending] = find(lines, 'jetstream_consumer_num_pending');
    assert.deepEqual(Object.keys(pending?.labels ?? {}), CONSUMER_LABELS);
    assert.equal(pending?.labels.consumer_name, 'trigger-dispatcher');
    assert.equal(pending?.labels.consumer_leader, '', '2.9 reports no cluster for a single-node consumer');
    assert.equal(pending?.labels.is_consumer_leader, 'true');
    assert.equal(pending?.labels.consumer_desc, 'matches "signals" to pipelines');
    assert.equal(pending?.value, '6');
    const consumer = { consumer_name: 'trigger-dispatcher' };
    assert.equal(value(lines, 'jetstream_consumer_num_ack_pending', consumer), '2');
    assert.equal(value(lines, 'jetstream_consumer_num_redelivered', consumer), '0');
    assert.equal(value(lines, 'jetstream_consumer_num_waiting', consumer), '0');
    assert.equal(value(lines, 'jetstream_consumer_delivered_stream_seq', consumer), '4');
    assert.equal(value(lines, 'jetstream_consumer_delivered_consumer_seq', consumer), '4');
    assert.equal(value(lines, 'jetstream_consumer_ack_floor_stream_seq', consumer), '2');
    const text = renderNode(node('single'));
    assert.ok(text.includes(',consumer_desc="matches \\"signals\\" to pipelines"} 6\n'));
  });
});

describe('renderNode on a 3-node cluster (nats-server 2.9.10)', () => {
  const nodes = {
    'nats-1': parse(renderNode(node('cluster-nats-1'))),
    'nats-2': parse(renderNode(node('cluster-nats-2'))),
    'nats-3': parse(renderNode(node('cluster-nats-3'))),
  };

  it('server labels: cluster name, the meta leader by name, is_meta_leader only on it', () => {
    for (const [name, lines] of Object.entries(nodes)) {
      const [streams] = find(lines, 'jetstream_server_total_streams');
      assert.deepEqual(streams?.labels, {
        server_id: name,
        server_name: name,
        cluster: 'trading-local',
        domain: '',
        meta_leader: 'nats-2',
        is_meta_leader: name === 'nats-2' ? 'true' : 'false',
      });
      assert.equal(streams?.value, '2', 'every node holds a replica of both streams');
      assert.equal(value(lines, 'jetstream_meta_cluster_size'), '3');
      assert.equal(value(lines, 'gnatsd_varz_routes'), '2');
      assert.equal(value(lines, 'gnatsd_healthz_status', { server_id: name }), '0');
    }
    assert.equal(value(nodes['nats-1'], 'gnatsd_varz_connections'), '1', 'the fixture client was on nats-1');
  });

  it('meta peers: reported by the meta leader only, each current', () => {
    const peers = find(nodes['nats-2'], 'jetstream_meta_peer_current');
    assert.deepEqual(
      peers.map((p) => [p.labels.peer, p.labels.is_meta_leader, p.value]),
      [
        ['nats-1', 'true', '1'],
        ['nats-3', 'true', '1'],
      ],
    );
    assert.deepEqual(Object.keys(peers[0]?.labels ?? {}), [...SERVER_LABELS, 'peer']);
    assert.equal(value(nodes['nats-2'], 'jetstream_meta_peer_offline', { peer: 'nats-1' }), '0');
    assert.deepEqual(find(nodes['nats-1'], 'jetstream_meta_peer_current'), []);
    assert.deepEqual(find(nodes['nats-3'], 'jetstream_meta_peer_current'), []);
  });

  it('stream leader labels: the same leader on every node, is_stream_leader on it', () => {
    for (const [name, lines] of Object.entries(nodes)) {
      const signals = find(lines, 'jetstream_stream_last_seq', { stream_name: 'SIGNALS' });
      assert.deepEqual(
        signals.map((s) => [s.labels.stream_leader, s.labels.is_stream_leader, s.labels.cluster, s.value]),
        [['nats-3', String(name === 'nats-3'), 'trading-local', '10']],
      );
      assert.equal(value(lines, 'jetstream_stream_replicas', { stream_name: 'SIGNALS' }), '3');
      assert.equal(value(lines, 'jetstream_stream_replicas', { stream_name: 'KV_pipelines' }), '3');
      const kv = find(lines, 'jetstream_stream_total_messages', { stream_name: 'KV_pipelines' });
      assert.deepEqual(
        kv.map((s) => [s.labels.stream_leader, s.labels.is_stream_leader, s.value]),
        [['nats-2', String(name === 'nats-2'), '2']],
      );
    }
  });

  it('stream replicas: from the stream leader, one per other member, current and caught up', () => {
    const replicas = (lines: Line[], name: string) =>
      find(lines, name).map((l) => [l.labels.stream_name, l.labels.replica_name, l.value]);
    assert.deepEqual(replicas(nodes['nats-3'], 'jetstream_stream_replica_current'), [
      ['SIGNALS', 'nats-1', '1'],
      ['SIGNALS', 'nats-2', '1'],
    ]);
    assert.deepEqual(replicas(nodes['nats-3'], 'jetstream_stream_replica_lag'), [
      ['SIGNALS', 'nats-1', '0'],
      ['SIGNALS', 'nats-2', '0'],
    ]);
    assert.deepEqual(replicas(nodes['nats-2'], 'jetstream_stream_replica_current'), [
      ['KV_pipelines', 'nats-1', '1'],
      ['KV_pipelines', 'nats-3', '1'],
    ]);
    const [current] = find(nodes['nats-3'], 'jetstream_stream_replica_current');
    assert.deepEqual(Object.keys(current?.labels ?? {}), [...STREAM_LABELS, 'replica_name']);
    assert.equal(current?.labels.is_stream_leader, 'true');
  });

  it("leaves out a follower's view of the replicas, which does not follow the other peers", () => {
    // What nats-1, a follower of both streams, says: its fellow follower nats-2 "not current", 11 behind.
    const jsz = fixture('cluster-nats-1-jsz') as Jsz;
    const signals = jsz.account_details?.[0]?.stream_detail?.find((s) => s.name === 'SIGNALS');
    assert.deepEqual(signals?.cluster?.replicas?.[0], {
      name: 'nats-2',
      current: false,
      active: 0,
      lag: 11,
      peer: 'cnrtt3eg',
    });
    assert.deepEqual(find(nodes['nats-1'], 'jetstream_stream_replica_current'), []);
    assert.deepEqual(find(nodes['nats-1'], 'jetstream_stream_replica_lag'), []);
  });

  it('consumer metrics on every node, the leader telling the truth', () => {
    const pending = Object.entries(nodes).map(([name, lines]) => {
      const [line] = find(lines, 'jetstream_consumer_num_pending', { consumer_name: 'trigger-dispatcher' });
      return [name, line?.labels.consumer_leader, line?.labels.is_consumer_leader, line?.value];
    });
    // Followers apply the consumer's state later than its leader: dashboards filter is_consumer_leader.
    assert.deepEqual(pending, [
      ['nats-1', 'nats-3', 'false', '10'],
      ['nats-2', 'nats-3', 'false', '10'],
      ['nats-3', 'nats-3', 'true', '6'],
    ]);
    const leader = { is_consumer_leader: 'true' };
    assert.equal(value(nodes['nats-3'], 'jetstream_consumer_num_ack_pending', leader), '2');
    assert.equal(value(nodes['nats-3'], 'jetstream_consumer_ack_floor_stream_seq', leader), '2');
  });
});

describe('renderNode on a degraded cluster (nats-server 2.9.10)', () => {
  it('a stopped replica: offline at once, then not current, its lag growing with each write', () => {
    const lines = parse(renderNode(node('degraded-nats-3')));
    const signals = { stream_name: 'SIGNALS', replica_name: 'nats-1' };
    assert.equal(value(lines, 'jetstream_stream_replica_current', signals), '0');
    assert.equal(value(lines, 'jetstream_stream_replica_offline', signals), '1');
    assert.equal(value(lines, 'jetstream_stream_replica_lag', signals), '5');
    const alive = { stream_name: 'SIGNALS', replica_name: 'nats-2' };
    assert.equal(value(lines, 'jetstream_stream_replica_current', alive), '1');
    assert.equal(value(lines, 'jetstream_stream_replica_offline', alive), '0');
    assert.equal(value(lines, 'jetstream_stream_last_seq', { stream_name: 'SIGNALS' }), '15');
    // Two of three nodes keep the quorum: healthy.
    assert.equal(value(lines, 'gnatsd_healthz_status'), '0');
  });

  it('no quorum: unhealthy, no meta leader, and a leaderless bucket with no replica metrics', () => {
    const lines = parse(renderNode(node('noquorum-nats-3')));
    assert.equal(value(lines, 'gnatsd_healthz_status', { server_id: 'nats-3' }), '1');
    assert.equal(value(lines, 'gnatsd_healthz_status_value', { value: 'unavailable' }), '0');
    const [server] = find(lines, 'jetstream_server_total_streams');
    assert.equal(server?.labels.meta_leader, '');
    assert.equal(server?.labels.is_meta_leader, 'false');
    const kv = { stream_name: 'KV_pipelines' };
    assert.equal(find(lines, 'jetstream_stream_total_messages', kv)[0]?.labels.stream_leader, '');
    assert.equal(find(lines, 'jetstream_stream_total_messages', kv)[0]?.labels.is_stream_leader, 'false');
    assert.deepEqual(find(lines, 'jetstream_stream_replica_current', kv), []);
    // nats-3 still takes itself for the SIGNALS leader; nats-2 just went: offline but still "current".
    const nats2 = { stream_name: 'SIGNALS', replica_name: 'nats-2' };
    assert.equal(value(lines, 'jetstream_stream_replica_current', nats2), '1');
    assert.equal(value(lines, 'jetstream_stream_replica_offline', nats2), '1');
  });
});

describe('renderNode without JetStream', () => {
  it('reports JetStream disabled, and no streams', () => {
    const lines = parse(
      renderNode({
        varz: fixture('nojs-varz') as Varz,
        healthz: { status: 'ok' },
        jsz: fixture('nojs-jsz') as Jsz,
      }),
    );
    assert.equal(value(lines, 'jetstream_server_jetstream_disabled', { server_id: 'nats-nojs' }), '1');
    assert.equal(value(lines, 'jetstream_server_total_streams'), '0');
    assert.deepEqual(find(lines, 'jetstream_stream_total_messages'), []);
    assert.equal(value(lines, 'gnatsd_varz_connections', { server_id: 'nats-nojs' }), '0');
  });
});

describe('the text format', () => {
  const one = (help: string, labels: Record<string, string>, value: number) =>
    render([{ name: 'm', help, samples: [{ labels, value }] }]).split('\n');

  it('escapes backslash, double quote and line feed in label values', () => {
    assert.equal(one('h', { l: 'a\\b"c\nd' }, 1)[2], 'm{l="a\\\\b\\"c\\nd"} 1');
    assert.equal(one('h', { l: 'plain $G KV_x.y' }, 1)[2], 'm{l="plain $G KV_x.y"} 1');
  });

  it('escapes backslash and line feed, not quotes, in HELP', () => {
    assert.equal(one('a\\b "c"\nd', {}, 1)[0], '# HELP m a\\\\b "c"\\nd');
  });

  it('writes special values as Prometheus reads them', () => {
    assert.deepEqual(
      [NaN, Infinity, -Infinity, 0, 1.5, 12845056].map((v) => one('h', {}, v)[2]),
      ['m NaN', 'm +Inf', 'm -Inf', 'm 0', 'm 1.5', 'm 12845056'],
    );
  });

  it('renders a family with escaped labels, and leaves out families without samples', () => {
    const text = render([
      { name: 'empty', help: 'none', samples: [] },
      {
        name: 'x_total',
        help: 'line\nbreak',
        samples: [
          { labels: { a: 'q"uote', b: 'back\\slash\nnl' }, value: 2 },
          { labels: {}, value: NaN },
        ],
      },
    ]);
    assert.equal(
      text,
      '# HELP x_total line\\nbreak\n# TYPE x_total gauge\nx_total{a="q\\"uote",b="back\\\\slash\\nnl"} 2\nx_total NaN\n',
    );
    assert.deepEqual(parse(text)[0]?.labels, { a: 'q"uote', b: 'back\\slash\nnl' });
    assert.equal(render([]), '');
  });

  it('a stream or consumer name with quotes or a backslash stays one well-formed series', () => {
    const jsz: Jsz = {
      streams: 1,
      account_details: [
        {
          name: 'acc"1',
          id: 'A\\B',
          stream_detail: [
            {
              name: 'S',
              state: { messages: 3 },
              consumer_detail: [{ name: 'c', config: { description: 'two\nlines' } }],
            },
          ],
        },
      ],
    };
    const lines = parse(
      renderNode({ varz: { server_id: 'ID', server_name: 'n1' }, healthz: { status: 'ok' }, jsz }),
    );
    assert.equal(
      value(lines, 'jetstream_stream_total_messages', { account: 'acc"1', account_id: 'A\\B' }),
      '3',
    );
    assert.equal(value(lines, 'jetstream_consumer_num_pending', { consumer_desc: 'two\nlines' }), '0');
    assert.equal(value(lines, 'jetstream_stream_total_messages', { is_stream_leader: 'true' }), '3');
  });

  it('every fixture renders to well-formed, duplicate-free output', () => {
    for (const prefix of [
      'single',
      'cluster-nats-1',
      'cluster-nats-2',
      'cluster-nats-3',
      'degraded-nats-3',
      'noquorum-nats-3',
    ]) {
      assert.ok(parse(renderNode(node(prefix))).length > 30, prefix);
    }
  });
});
