/**
 * The exporter's HTTP behaviour, in-process on port 0: its own metrics without a target, allowed
 * targets only (400 otherwise), a
 * node that cannot be scraped is a 503 (so Prometheus records up=0), and a reachable node is its
 * metrics. A tiny node:http server serving the captured fixtures stands in for a NATS monitoring
 * endpoint; a port nothing listens on stands in for a node that is down. Also main.ts as a
 * process: configuration errors and SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { renderNode, type Healthz, type Jsz, type Varz } from '../src/metrics.ts';
import { configFromEnv, startExporter, type Exporter } from '../src/server.ts';

/** What the exporter asks each node, as the maintained exporter asks it for -healthz and -jsz=all. */
const NODE_PATHS = {
  varz: '/varz',
  healthz: '/healthz',
  jsz: '/jsz?streams=true&consumers=true&config=true&raft=true',
} as const;

const fixtureText = (name: string) => readFileSync(new URL(`fixtures/${name}.json`, import.meta.url), 'utf8');

type Route = { status: number; body: string } | 'hang';

/** A monitoring endpoint stand-in: answers each path (with its query) from `routes`, 404 otherwise. */
async function standIn(
  routes: Record<string, Route>,
): Promise<{ target: string; paths: string[]; server: Server }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    const route = routes[req.url ?? ''];
    if (route === 'hang') return;
    res.writeHead(route?.status ?? 404, { 'content-type': 'application/json' });
    res.end(route?.body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { target: `127.0.0.1:${(server.address() as AddressInfo).port}`, paths, server };
}

function nodeRoutes(prefix: string, healthzStatus = 200): Record<string, Route> {
  return {
    [NODE_PATHS.varz]: { status: 200, body: fixtureText(`${prefix}-varz`) },
    [NODE_PATHS.healthz]: { status: healthzStatus, body: fixtureText(`${prefix}-healthz`) },
    [NODE_PATHS.jsz]: { status: 200, body: fixtureText(`${prefix}-jsz`) },
  };
}

/** A port that refuses connections: listened on, then closed. */
async function refusingTarget(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

describe('the exporter over HTTP', () => {
  let exporter: Exporter;
  const standIns: Server[] = [];
  const targets: Record<string, string> = {};

  before(async () => {
    const add = async (name: string, routes: Record<string, Route>) => {
      const s = await standIn(routes);
      standIns.push(s.server);
      targets[name] = s.target;
      return s;
    };
    await add('healthy', nodeRoutes('cluster-nats-3'));
    await add('unhealthy', nodeRoutes('noquorum-nats-3', 503));
    await add('hanging', { ...nodeRoutes('single'), [NODE_PATHS.jsz]: 'hang' });
    await add('html', {
      ...nodeRoutes('single'),
      [NODE_PATHS.varz]: { status: 200, body: '<html>proxy</html>' },
    });
    await add('jsz-error', {
      ...nodeRoutes('single'),
      [NODE_PATHS.jsz]: { status: 400, body: 'bad request' },
    });
    targets.down = await refusingTarget();
    exporter = await startExporter({
      port: 0,
      host: '127.0.0.1',
      targets: Object.values(targets),
      timeoutMs: 300,
    });
  });

  after(async () => {
    await exporter.close();
    for (const s of standIns) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  const get = async (path: string) => {
    const response = await fetch(`${exporter.url}${path}`);
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: await response.text(),
    };
  };

  it('GET /health: 200 {"status":"ok"}', async () => {
    const { status, body } = await get('/health');
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
  });

  it('a reachable node: 200, its metrics in the text format, from the three monitoring queries', async () => {
    const s = await standIn(nodeRoutes('cluster-nats-3'));
    const own = await startExporter({ port: 0, host: '127.0.0.1', targets: [s.target] });
    try {
      const response = await fetch(`${own.url}/metrics?target=${s.target}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      const expected = renderNode({
        varz: JSON.parse(fixtureText('cluster-nats-3-varz')) as Varz,
        healthz: JSON.parse(fixtureText('cluster-nats-3-healthz')) as Healthz,
        jsz: JSON.parse(fixtureText('cluster-nats-3-jsz')) as Jsz,
      });
      assert.equal(await response.text(), expected);
      assert.deepEqual(s.paths.toSorted(), [
        '/healthz',
        '/jsz?streams=true&consumers=true&config=true&raft=true',
        '/varz',
      ]);
    } finally {
      await own.close();
      s.server.closeAllConnections();
      await new Promise((resolve) => s.server.close(resolve));
    }
  });

  it('a node answering /healthz with 503 and a JSON status is reachable and reported unhealthy', async () => {
    const { status, body } = await get(`/metrics?target=${targets.unhealthy ?? ''}`);
    assert.equal(status, 200);
    assert.match(body, /^gnatsd_healthz_status\{server_id="nats-3"\} 1$/m);
    assert.match(body, /^gnatsd_healthz_status_value\{server_id="nats-3",value="unavailable"\} 0$/m);
  });

  it("no target: the exporter's own metrics, for its own up series", async () => {
    const { status, body } = await get('/metrics');
    assert.equal(status, 200);
    assert.match(body, /^nats_exporter_targets 6$/m);
  });

  it('a target not in NATS_MONITOR_TARGETS: 400 naming it, and nothing fetched (no SSRF)', async () => {
    for (const target of ['169.254.169.254:80', `${targets.healthy ?? ''}/varz`, 'localhost:8222']) {
      const { status, body } = await get(`/metrics?target=${encodeURIComponent(target)}`);
      assert.equal(status, 400, target);
      assert.ok(body.startsWith(`query parameter target: "${target}" is not allowed; allowed: `), body);
      assert.ok(body.includes(targets.healthy ?? '?'));
    }
  });

  it('a node that refuses connections: 503 with a one-line reason', async () => {
    const { status, type, body } = await get(`/metrics?target=${targets.down ?? ''}`);
    assert.equal(status, 503);
    assert.equal(type, 'text/plain; charset=utf-8');
    assert.match(body, /^NATS node 127\.0\.0\.1:\d+ cannot be scraped: \/\S+: .*ECONNREFUSED.*\n$/);
  });

  it('a node that does not answer in time: 503 after the timeout', async () => {
    const started = Date.now();
    const { status, body } = await get(`/metrics?target=${targets.hanging ?? ''}`);
    assert.equal(status, 503);
    assert.equal(
      body,
      `NATS node ${targets.hanging ?? ''} cannot be scraped: ${NODE_PATHS.jsz}: timed out after 300 ms\n`,
    );
    assert.ok(Date.now() - started < 2000);
  });

  it('an answer that is not JSON, or an error status from /jsz: 503 naming the endpoint', async () => {
    const html = await get(`/metrics?target=${targets.html ?? ''}`);
    assert.equal(html.status, 503);
    assert.ok(html.body.endsWith(': /varz: the answer is not a JSON object (HTTP 200)\n'), html.body);
    const jsz = await get(`/metrics?target=${targets['jsz-error'] ?? ''}`);
    assert.equal(jsz.status, 503);
    assert.ok(jsz.body.endsWith(`: ${NODE_PATHS.jsz}: HTTP 400\n`), jsz.body);
  });

  it('other paths are 404, other methods 405', async () => {
    assert.equal((await get('/varz')).status, 404);
    const response = await fetch(`${exporter.url}/metrics`, { method: 'POST' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
  });
});

describe('configFromEnv', () => {
  it('defaults to port 7777 on 127.0.0.1, and reads the targets list', () => {
    assert.deepEqual(configFromEnv({ NATS_MONITOR_TARGETS: ' 127.0.0.1:8222, 127.0.0.1:8223,,[::1]:8224' }), {
      port: 7777,
      host: '127.0.0.1',
      targets: ['127.0.0.1:8222', '127.0.0.1:8223', '[::1]:8224'],
    });
    assert.deepEqual(configFromEnv({ PORT: '9000', HOST: '0.0.0.0', NATS_MONITOR_TARGETS: 'nats-1:8222' }), {
      port: 9000,
      host: '0.0.0.0',
      targets: ['nats-1:8222'],
    });
  });

  it('a bad PORT names the variable, the value and what is accepted', () => {
    for (const port of ['abc', '70000', '-1', '80.5', '']) {
      assert.throws(() => configFromEnv({ PORT: port, NATS_MONITOR_TARGETS: '127.0.0.1:8222' }), {
        message: `PORT="${port}" is not a port: expected an integer from 0 to 65535 (default 7777)`,
      });
    }
  });

  it('missing, empty or malformed NATS_MONITOR_TARGETS names the variable and the expected form', () => {
    assert.throws(
      () => configFromEnv({}),
      /^Error: NATS_MONITOR_TARGETS="" names no target: expected a comma-separated list of NATS monitoring endpoints as host:port/,
    );
    assert.throws(
      () => configFromEnv({ NATS_MONITOR_TARGETS: ' , ' }),
      /NATS_MONITOR_TARGETS=" , " names no target/,
    );
    for (const bad of [
      'http://127.0.0.1:8222',
      '127.0.0.1',
      '127.0.0.1:8222/varz',
      '127.0.0.1:0',
      'a:99999',
    ]) {
      assert.throws(() => configFromEnv({ NATS_MONITOR_TARGETS: `127.0.0.1:8222,${bad}` }), {
        message: `NATS_MONITOR_TARGETS="127.0.0.1:8222,${bad}": "${bad}" is not host:port (port 1 to 65535, no scheme or path), e.g. 127.0.0.1:8222`,
      });
    }
  });
});

/** Runs main.ts with `env`; resolves with its exit code and output once it exits. */
function runMain(env: Record<string, string>, onStdout?: (text: string, kill: () => void) => void) {
  const child = spawn(
    process.execPath,
    ['--conditions=@tradeobs/source', new URL('../src/main.ts', import.meta.url).pathname],
    { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, () => child.kill('SIGTERM'));
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

describe('main.ts as a process', () => {
  it('a bad PORT fails start-up with exit 1 and the reason', async () => {
    const { code, stderr } = await runMain({ PORT: 'http', NATS_MONITOR_TARGETS: '127.0.0.1:8222' });
    assert.equal(code, 1);
    assert.equal(
      stderr,
      'nats-exporter: PORT="http" is not a port: expected an integer from 0 to 65535 (default 7777)\n',
    );
  });

  it('no NATS_MONITOR_TARGETS fails start-up with exit 1', async () => {
    const { code, stderr } = await runMain({ PORT: '0' });
    assert.equal(code, 1);
    assert.match(stderr, /^nats-exporter: NATS_MONITOR_TARGETS="" names no target/);
  });

  it('serves, then exits 0 on SIGTERM', async () => {
    let health: Promise<number> | undefined;
    const { code, signal, stdout } = await runMain(
      { PORT: '0', NATS_MONITOR_TARGETS: '127.0.0.1:8222' },
      (text, kill) => {
        const url = /listening on (http:\/\/\S+),/.exec(text)?.[1];
        if (url && !health) {
          health = fetch(`${url}/health`).then((r) => {
            kill();
            return r.status;
          });
        }
      },
    );
    assert.equal(await health, 200);
    assert.deepEqual([code, signal], [0, null]);
    assert.match(
      stdout,
      /listening on http:\/\/127\.0\.0\.1:\d+, targets 127\.0\.0\.1:8222\n.*SIGTERM, closing\n$/,
    );
  });
});
