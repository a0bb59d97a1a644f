/**
 * nats-exporter: a Prometheus exporter for NATS server monitoring. Prometheus scrapes
 * GET /metrics?target=<host:port> once per NATS node; the exporter reads that node's /varz,
 * /healthz and /jsz and answers them as gauges (see metrics.ts), or 503 when the node cannot be
 * reached, so `up` is 0 for a node that is down (server.ts).
 *
 * It mirrors the metric and label names of the maintained prometheus-nats-exporter (gnatsd_varz_*,
 * gnatsd_healthz_status, jetstream_server_*, jetstream_stream_*, jetstream_consumer_*), so that
 * one can replace it in production with the same dashboards and alerts; the few metrics it adds
 * (jetstream_meta_*, jetstream_stream_replica*) are the Raft replica state that one lacks. We do
 * not run the maintained exporter here because its Go module is not served by the Go module proxy
 * this stack builds from, and a handful of gauges is less to maintain than a fork.
 *
 * Environment: PORT (default 7777), HOST (default 127.0.0.1), NATS_MONITOR_TARGETS (required,
 * comma-separated host:port of the nodes' monitoring endpoints: the only targets it will fetch).
 */
import { configFromEnv, startExporter } from './server.ts';

let config;
try {
  config = configFromEnv(process.env);
} catch (error) {
  console.error(`nats-exporter: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

const exporter = await startExporter(config);
console.log(`nats-exporter: listening on ${exporter.url}, targets ${config.targets.join(', ')}`);

let stopping = false;
function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`nats-exporter: ${signal}, closing`);
  exporter.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`nats-exporter: closing: ${String(error)}`);
      process.exit(0);
    },
  );
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
