/**
 * NATS monitoring JSON (/varz, /healthz, /jsz of nats-server 2.9 and newer) to the Prometheus text
 * exposition format 0.0.4 (exposition.ts). Pure functions: the HTTP side is in server.ts. The unit tests render
 * what 2.9.10 answered; tests/e2e/scale-out.test.ts reads what it makes of the stack's 2.10.27.
 *
 * Names, label names, label order and label value formats are those of the maintained
 * prometheus-nats-exporter (collector/collector.go, healthz.go, jsz.go), so a dashboard or alert
 * written against this exporter works unchanged against that one. The metrics marked "ours" are
 * not in the maintained exporter: they expose the Raft replica state that /jsz already reports,
 * which is what tells whether a replicated stream (or key-value bucket, a stream named
 * `KV_<bucket>`) would survive losing another node.
 *
 * Every metric is a gauge, as in the maintained exporter: it reads /varz numbers (in_msgs,
 * out_bytes, …, monotonic in the server) into gauges, since it sets the value it was given on
 * each scrape rather than counting anything itself. rate() still works on them.
 */
import { Families, type Family, render } from './exposition.ts';

/** The parts of /varz we read. Field names as the server writes them. */
export interface Varz {
  server_id?: string;
  server_name?: string;
  connections?: number;
  routes?: number;
  subscriptions?: number;
  slow_consumers?: number;
  in_msgs?: number;
  out_msgs?: number;
  in_bytes?: number;
  out_bytes?: number;
  mem?: number;
  cpu?: number;
}

/** /healthz: `{"status":"ok"}`, or (answered with HTTP 503) a status such as "unavailable" and an error. */
export interface Healthz {
  status?: string;
  error?: string;
}

/** A Raft peer as /jsz reports it (server PeerInfo): for the meta group and for each stream or consumer. */
export interface PeerInfo {
  name?: string;
  current?: boolean;
  /** Omitted when false. Set as soon as the cluster hears the peer shut down or lose its route. */
  offline?: boolean;
  /** Nanoseconds since the peer was last heard from. */
  active?: number;
  /** Raft operations behind; omitted when 0. */
  lag?: number;
  peer?: string;
}

export interface ClusterInfo {
  name?: string;
  leader?: string;
  /** The group's other members (the node answering is not listed when there is a leader). */
  replicas?: PeerInfo[];
}

export interface ConsumerInfo {
  name?: string;
  config?: { description?: string };
  cluster?: ClusterInfo;
  delivered?: { consumer_seq?: number; stream_seq?: number };
  ack_floor?: { consumer_seq?: number; stream_seq?: number };
  num_ack_pending?: number;
  num_redelivered?: number;
  num_waiting?: number;
  num_pending?: number;
}

export interface StreamDetail {
  name?: string;
  cluster?: ClusterInfo;
  config?: { num_replicas?: number };
  state?: {
    messages?: number;
    bytes?: number;
    first_seq?: number;
    last_seq?: number;
    consumer_count?: number;
  };
  consumer_detail?: ConsumerInfo[];
  /** Only from servers newer than 2.9 (asked for with raft=true); 2.9 leaves the label empty. */
  stream_raft_group?: string;
}

export interface Jsz {
  disabled?: boolean;
  config?: { domain?: string };
  streams?: number;
  consumers?: number;
  messages?: number;
  bytes?: number;
  /** Absent when JetStream is not clustered. `replicas` is filled in by the meta leader only. */
  meta_cluster?: { name?: string; leader?: string; cluster_size?: number; replicas?: PeerInfo[] };
  account_details?: { name?: string; id?: string; stream_detail?: StreamDetail[] }[];
}

/** The /varz numbers exported, each as `gnatsd_varz_<field>` (the maintained exporter's naming). */
const VARZ_FIELDS = {
  connections: 'Client connections open now.',
  routes: 'Cluster routes open now.',
  subscriptions: 'Subscriptions on this server now.',
  slow_consumers: 'Clients disconnected so far for not reading fast enough (monotonic in the server).',
  in_msgs: 'Messages received from clients, routes and leaf nodes since start (monotonic).',
  out_msgs: 'Messages sent since start (monotonic).',
  in_bytes: 'Payload bytes received since start (monotonic).',
  out_bytes: 'Payload bytes sent since start (monotonic).',
  mem: 'Resident memory of the server process, in bytes.',
  cpu: 'CPU use of the server process, in percent of one core.',
} as const satisfies Partial<Record<keyof Varz, string>>;

/**
 * The server_id label of every metric: the configured server_name. The server's own server_id is
 * generated anew at every start, so a restart would start new series (and break rate() and
 * alerts); server_name stays. This is what the maintained exporter puts in server_id when run
 * with -use_internal_server_name (by default it uses the monitoring URL).
 */
function serverIdOf(varz: Varz): string {
  return varz.server_name ?? varz.server_id ?? '';
}

function varzFamilies(varz: Varz): Family[] {
  const families = new Families();
  const labels = { server_id: serverIdOf(varz) };
  for (const [field, help] of Object.entries(VARZ_FIELDS)) {
    const name = `gnatsd_varz_${field}`;
    families.declare(name, help);
    families.add(name, labels, varz[field as keyof typeof VARZ_FIELDS]);
  }
  return families.list();
}

/**
 * The maintained exporter's semantics, inverted from what one might expect: gnatsd_healthz_status
 * is 0 when the server answers status "ok" and 1 otherwise. gnatsd_healthz_status_value is 1 when
 * "ok", with the status itself in its `value` label. /healthz (without options) on 2.9 is "ok"
 * once the server accepts connections and, with JetStream clustered, this node sees a meta leader,
 * is current with it and every stream and consumer replica it holds is current.
 */
function healthzFamilies(healthz: Healthz, serverId: string): Family[] {
  const families = new Families();
  const ok = healthz.status === 'ok';
  families.declare('gnatsd_healthz_status', 'Health of the server: 0 healthy ("ok"), 1 anything else.');
  families.add('gnatsd_healthz_status', { server_id: serverId }, ok ? 0 : 1);
  families.declare(
    'gnatsd_healthz_status_value',
    'Health of the server: 1 healthy, 0 not; the status the server answered is in label value.',
  );
  families.add('gnatsd_healthz_status_value', { server_id: serverId, value: healthz.status ?? '' }, ok);
  return families.list();
}

/** "true"/"false" label values, as the maintained exporter writes them. */
const flag = (value: boolean) => (value ? 'true' : 'false');

/** Declared in this order, so the output reads server, meta, stream, replica, consumer. */
const JSZ_HELP = {
  jetstream_server_jetstream_disabled: 'JetStream disabled (1) or enabled (0) on this server.',
  jetstream_server_total_streams: 'Streams on this server (replicas included).',
  jetstream_server_total_consumers: 'Consumers on this server (replicas included).',
  jetstream_server_total_messages: 'Messages stored by this server in JetStream.',
  jetstream_server_total_message_bytes: 'Bytes stored by this server in JetStream.',
  jetstream_meta_cluster_size: 'Servers in the JetStream meta group (ours; absent when not clustered).',
  jetstream_meta_peer_current:
    'Meta group peer current with the meta leader, 1 or 0 (ours; only the meta leader reports peers).',
  jetstream_meta_peer_offline:
    'Meta group peer known to be offline, 1 or 0 (ours; set sooner than current drops to 0).',
  jetstream_stream_total_messages: 'Messages in the stream.',
  jetstream_stream_total_bytes: 'Bytes in the stream.',
  jetstream_stream_first_seq: 'First sequence in the stream.',
  jetstream_stream_last_seq: 'Last sequence in the stream.',
  jetstream_stream_consumer_count: 'Consumers of the stream.',
  jetstream_stream_replicas: 'Replicas the stream is configured with, num_replicas (ours).',
  jetstream_stream_replica_current:
    'Replica current with the stream leader, 1 or 0 (ours; reported by the stream leader only).',
  jetstream_stream_replica_lag:
    'Raft operations the replica is behind the stream leader (ours; reported by the stream leader only).',
  jetstream_stream_replica_offline:
    'Replica known to be offline, 1 or 0 (ours; reported by the stream leader only).',
  jetstream_consumer_num_pending: 'Messages of the stream not yet delivered to the consumer.',
  jetstream_consumer_num_ack_pending: 'Messages delivered and not yet acknowledged.',
  jetstream_consumer_num_redelivered: 'Messages delivered more than once and not yet acknowledged.',
  jetstream_consumer_num_waiting: 'Pull requests waiting for messages.',
  jetstream_consumer_delivered_stream_seq: 'Stream sequence last delivered to the consumer.',
  jetstream_consumer_delivered_consumer_seq: 'Consumer sequence last delivered.',
  jetstream_consumer_ack_floor_stream_seq: 'Stream sequence up to which every message is acknowledged.',
} as const;

/**
 * /jsz of one node. `serverName` is varz server_name: /jsz names leaders by server name, and the
 * maintained exporter compares them with it for the is_*_leader labels.
 */
function jszFamilies(jsz: Jsz, serverName: string): Family[] {
  const families = new Families();
  for (const [name, help] of Object.entries(JSZ_HELP)) families.declare(name, help);

  // Not clustered (no meta group): this node is its own meta leader, with meta_leader empty.
  const meta = jsz.meta_cluster;
  const serverLabels = {
    server_id: serverName,
    server_name: serverName,
    cluster: meta?.name ?? '',
    domain: jsz.config?.domain ?? '',
    meta_leader: meta?.leader ?? '',
    is_meta_leader: flag(meta === undefined || meta.leader === serverName),
  };
  families.add('jetstream_server_jetstream_disabled', serverLabels, jsz.disabled === true);
  families.add('jetstream_server_total_streams', serverLabels, jsz.streams ?? 0);
  families.add('jetstream_server_total_consumers', serverLabels, jsz.consumers ?? 0);
  families.add('jetstream_server_total_messages', serverLabels, jsz.messages ?? 0);
  families.add('jetstream_server_total_message_bytes', serverLabels, jsz.bytes ?? 0);
  if (meta) {
    families.add('jetstream_meta_cluster_size', serverLabels, meta.cluster_size);
    for (const peer of meta.replicas ?? []) {
      const labels = { ...serverLabels, peer: peer.name ?? '' };
      families.add('jetstream_meta_peer_current', labels, peer.current === true);
      families.add('jetstream_meta_peer_offline', labels, peer.offline === true);
    }
  }

  for (const account of jsz.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) {
      // The account name twice (account and account_name), as the maintained exporter does. A
      // stream without cluster info is led by this node.
      const leader = stream.cluster?.leader ?? '';
      const isLeader = stream.cluster === undefined || leader === serverName;
      const streamLabels = {
        ...serverLabels,
        account: account.name ?? '',
        account_name: account.name ?? '',
        account_id: account.id ?? '',
        stream_name: stream.name ?? '',
        stream_leader: leader,
        is_stream_leader: flag(isLeader),
        stream_raft_group: stream.stream_raft_group ?? '',
      };
      const state = stream.state ?? {};
      families.add('jetstream_stream_total_messages', streamLabels, state.messages ?? 0);
      families.add('jetstream_stream_total_bytes', streamLabels, state.bytes ?? 0);
      families.add('jetstream_stream_first_seq', streamLabels, state.first_seq ?? 0);
      families.add('jetstream_stream_last_seq', streamLabels, state.last_seq ?? 0);
      families.add('jetstream_stream_consumer_count', streamLabels, state.consumer_count ?? 0);
      families.add('jetstream_stream_replicas', streamLabels, stream.config?.num_replicas);
      // Followers list replicas too, but from their own Raft view, which does not follow the
      // other peers: in a healthy cluster a follower reports its fellow follower "current": false
      // with a lag (test/fixtures/cluster-nats-1-jsz.json). Only the leader's view is the truth.
      if (isLeader) {
        for (const replica of stream.cluster?.replicas ?? []) {
          const labels = { ...streamLabels, replica_name: replica.name ?? '' };
          families.add('jetstream_stream_replica_current', labels, replica.current === true);
          families.add('jetstream_stream_replica_lag', labels, replica.lag ?? 0);
          families.add('jetstream_stream_replica_offline', labels, replica.offline === true);
        }
      }

      for (const consumer of stream.consumer_detail ?? []) {
        const consumerLeader = consumer.cluster?.leader ?? '';
        const labels = {
          ...streamLabels,
          consumer_name: consumer.name ?? '',
          consumer_leader: consumerLeader,
          is_consumer_leader: flag(consumer.cluster === undefined || consumerLeader === serverName),
          consumer_desc: consumer.config?.description ?? '',
        };
        families.add('jetstream_consumer_num_pending', labels, consumer.num_pending ?? 0);
        families.add('jetstream_consumer_num_ack_pending', labels, consumer.num_ack_pending ?? 0);
        families.add('jetstream_consumer_num_redelivered', labels, consumer.num_redelivered ?? 0);
        families.add('jetstream_consumer_num_waiting', labels, consumer.num_waiting ?? 0);
        families.add('jetstream_consumer_delivered_stream_seq', labels, consumer.delivered?.stream_seq ?? 0);
        families.add(
          'jetstream_consumer_delivered_consumer_seq',
          labels,
          consumer.delivered?.consumer_seq ?? 0,
        );
        families.add('jetstream_consumer_ack_floor_stream_seq', labels, consumer.ack_floor?.stream_seq ?? 0);
      }
    }
  }
  return families.list();
}

/** Everything for one node: what GET /metrics?target=<node> answers. */
export function renderNode(node: { varz: Varz; healthz: Healthz; jsz: Jsz }): string {
  const serverId = serverIdOf(node.varz);
  return render([
    ...varzFamilies(node.varz),
    ...healthzFamilies(node.healthz, serverId),
    ...jszFamilies(node.jsz, serverId),
  ]);
}
