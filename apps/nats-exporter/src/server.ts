/**
 * The exporter's HTTP server: GET /metrics?target=<host:port> scrapes one NATS node's monitoring
 * endpoint and answers its metrics; GET /health answers that the exporter itself runs.
 *
 * Multi-target, like Prometheus' blackbox exporter: one exporter serves every node, and Prometheus
 * scrapes it once per node with the node in `target` (relabelled from the scrape target). So each
 * node is its own scrape, with its own `up`, and a node that is down makes that scrape fail
 * (HTTP 503) rather than silently dropping its series from a combined answer: `up{job="nats"} == 0`
 * names the node that is down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { render } from './exposition.ts';
import { renderNode, type Healthz, type Jsz, type Varz } from './metrics.ts';

export interface ExporterOptions {
  port: number;
  host: string;
  /** The monitoring endpoints (host:port) that may be scraped; anything else is refused (no SSRF). */
  targets: readonly string[];
  /** Per request to the node; the maintained exporter's default scrape timeout is larger. */
  timeoutMs?: number;
}

export interface Exporter {
  server: Server;
  /** The address it listens on, e.g. http://127.0.0.1:7777 (the actual port when given port 0). */
  url: string;
  close(): Promise<void>;
}

/** The monitoring queries: what the maintained exporter asks for its -healthz and -jsz=all. */
const NODE_PATHS = {
  varz: '/varz',
  // Plain /healthz (not ?js-enabled-only=true, which 2.9.10 also accepts): its answer is what the
  // maintained exporter's gnatsd_healthz_status means; js-enabled-only skips the meta, stream and
  // consumer checks, and the maintained exporter names that variant gnatsd_healthz_js_enabled_only_status.
  healthz: '/healthz',
  // raft=true is ignored by 2.9 (it adds stream_raft_group on newer servers).
  jsz: '/jsz?streams=true&consumers=true&config=true&raft=true',
} as const;

/** Why a node could not be scraped, in one line. */
class Unreachable extends Error {}

function reason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `timed out after ${timeoutMs} ms`;
  }
  // fetch reports "fetch failed" and keeps the system error (ECONNREFUSED, ENOTFOUND, …) as cause.
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * GETs a monitoring endpoint and parses its JSON. /healthz answers 503 with a JSON status when the
 * node is unhealthy: that is a reachable node with a status to report, so only /varz and /jsz must
 * answer 2xx.
 */
async function getJson(target: string, path: string, timeoutMs: number, anyStatus = false): Promise<unknown> {
  let response: Response;
  let body: string;
  try {
    response = await fetch(`http://${target}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    body = await response.text();
  } catch (error) {
    throw new Unreachable(`${path}: ${reason(error, timeoutMs)}`);
  }
  if (!response.ok && !anyStatus) throw new Unreachable(`${path}: HTTP ${response.status}`);
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed;
  } catch {
    throw new Unreachable(`${path}: the answer is not a JSON object (HTTP ${response.status})`);
  }
}

/** The three endpoints of one node, in parallel; any failure means the node cannot be scraped. */
async function scrapeNode(target: string, timeoutMs: number): Promise<string> {
  const [varz, healthz, jsz] = await Promise.all([
    getJson(target, NODE_PATHS.varz, timeoutMs),
    getJson(target, NODE_PATHS.healthz, timeoutMs, true),
    getJson(target, NODE_PATHS.jsz, timeoutMs),
  ]);
  return renderNode({ varz: varz as Varz, healthz: healthz as Healthz, jsz: jsz as Jsz });
}

function answer(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

const TEXT = 'text/plain; charset=utf-8';
const EXPOSITION = 'text/plain; version=0.0.4; charset=utf-8';

async function handle(req: IncomingMessage, res: ServerResponse, options: Required<ExporterOptions>) {
  const url = new URL(req.url ?? '/', 'http://exporter');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    answer(res, 405, TEXT, `method ${req.method ?? ''} not allowed: use GET\n`);
    return;
  }
  if (url.pathname === '/health') {
    answer(res, 200, 'application/json', '{"status":"ok"}');
    return;
  }
  if (url.pathname !== '/metrics') {
    answer(
      res,
      404,
      TEXT,
      `no ${url.pathname} here: GET /metrics?target=<host:port>, /metrics (the exporter's own) or /health\n`,
    );
    return;
  }
  const target = url.searchParams.get('target');
  if (target === null) {
    // The exporter itself, as the blackbox exporter answers /metrics without a probe: Prometheus
    // scrapes it as job nats-exporter, so that the exporter down (every node's scrape failing
    // at once) is told from every node down (infra/prometheus/rules/nats.yml).
    const targets = {
      name: 'nats_exporter_targets',
      help: 'NATS monitoring endpoints this exporter may scrape (NATS_MONITOR_TARGETS).',
      samples: [{ labels: {}, value: options.targets.length }],
    };
    answer(res, 200, EXPOSITION, render([targets]));
    return;
  }
  if (!options.targets.includes(target)) {
    answer(
      res,
      400,
      TEXT,
      `query parameter target: "${target}" is not allowed; allowed: ${options.targets.join(', ')}\n`,
    );
    return;
  }
  try {
    answer(res, 200, EXPOSITION, await scrapeNode(target, options.timeoutMs));
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    // 503, not 200 with fewer series: Prometheus then records up=0 for this target, which is how
    // a NATS node that is down (or hung) is detected.
    const line = `NATS node ${target} cannot be scraped: ${error.message}`;
    console.error(line);
    answer(res, 503, TEXT, `${line}\n`);
  }
}

export async function startExporter(options: ExporterOptions): Promise<Exporter> {
  const settings = { timeoutMs: 2000, ...options };
  const server = createServer((req, res) => {
    handle(req, res, settings).catch((error: unknown) => {
      console.error(`nats-exporter: ${req.url ?? ''}: ${String(error)}`);
      if (!res.headersSent) answer(res, 500, TEXT, 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // close() waits for open connections; Prometheus keeps its connection alive between scrapes.
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

export interface ExporterConfig {
  port: number;
  host: string;
  targets: string[];
}

/** A monitoring endpoint as Prometheus would write a target: host:port, or [IPv6]:port. */
const TARGET = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * PORT (default 7777, the maintained exporter's), HOST (default 127.0.0.1) and
 * NATS_MONITOR_TARGETS (comma-separated host:port, required). Throws naming the variable, the
 * value and what is accepted.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): ExporterConfig {
  const portText = env.PORT ?? '7777';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) {
    throw new Error(`PORT="${portText}" is not a port: expected an integer from 0 to 65535 (default 7777)`);
  }
  const host = env.HOST ?? '127.0.0.1';
  if (host === '') throw new Error('HOST="" is empty: expected an address to listen on (default 127.0.0.1)');
  const targetsText = env.NATS_MONITOR_TARGETS ?? '';
  const targets = targetsText
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (targets.length === 0) {
    throw new Error(
      `NATS_MONITOR_TARGETS="${targetsText}" names no target: expected a comma-separated list of NATS monitoring endpoints as host:port, e.g. 127.0.0.1:8222,127.0.0.1:8223`,
    );
  }
  for (const target of targets) {
    const match = TARGET.exec(target);
    const targetPort = Number(match?.[1]);
    if (!match || targetPort < 1 || targetPort > 65535) {
      throw new Error(
        `NATS_MONITOR_TARGETS="${targetsText}": "${target}" is not host:port (port 1 to 65535, no scheme or path), e.g. 127.0.0.1:8222`,
      );
    }
  }
  return { port, host, targets };
}
