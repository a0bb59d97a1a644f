/**
 * The api's HTTP contract in process: the OpenAPI document and the routes the app serves agree
 * on every path and method; the methods a path lacks are 405s with the document's methods in
 * `Allow`; the bodies it requires are required; the statuses it declares are those the
 * handlers and the shell answer (422, 409 for a lost compare-and-set, 503 without NATS), over
 * stores kept in memory. tests/e2e/api-contract.test.ts checks the same on the running api.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { TimeoutError } from '@nats-io/transport-node';
import { Bot, initPlatformTelemetry, type Mirror, Pipeline, serviceApp, Store } from '@tradeobs/platform';
import { apiRoutes } from '../src/app.ts';
import { openApiDocument } from '../src/openapi.ts';

const telemetry = initPlatformTelemetry({
  serviceName: 'api-test',
  serviceVersion: '0',
  env: { OTEL_METRICS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none', LOG_LEVEL: 'error' },
  registerGlobal: false,
});

type Failure = 'none' | 'lose every compare-and-set' | 'time out';

/** The part of a NATS key-value bucket the stores use, in memory, with its revisions and conflicts. */
class MemoryBucket {
  readonly #entries = new Map<string, { value: string; revision: number }>();
  #revision = 0;
  failure: Failure = 'none';

  #refuse(): Promise<never> | undefined {
    if (this.failure === 'time out') return Promise.reject(new TimeoutError());
    return undefined;
  }

  #conflict(key: string): Promise<never> {
    const description = `wrong last sequence: ${this.#entries.get(key)?.revision ?? 0}`;
    return Promise.reject(new JetStreamApiError({ code: 400, err_code: 10071, description }));
  }

  #write(key: string, value: string): Promise<number> {
    this.#revision += 1;
    this.#entries.set(key, { value, revision: this.#revision });
    return Promise.resolve(this.#revision);
  }

  get(key: string) {
    const entry = this.#entries.get(key);
    return (
      this.#refuse() ??
      Promise.resolve(
        entry && {
          operation: 'PUT',
          revision: entry.revision,
          json: () => JSON.parse(entry.value) as unknown,
        },
      )
    );
  }

  create(key: string, value: string) {
    return this.#refuse() ?? (this.#entries.has(key) ? this.#conflict(key) : this.#write(key, value));
  }

  update(key: string, value: string, revision: number) {
    const current = this.#entries.get(key)?.revision;
    const lost = this.failure === 'lose every compare-and-set' || current !== revision;
    return this.#refuse() ?? (lost ? this.#conflict(key) : this.#write(key, value));
  }

  delete(key: string) {
    this.#entries.delete(key);
    return this.#refuse() ?? Promise.resolve();
  }
}

/** The stores' view of a bucket: only the methods they call exist. */
const asKv = (bucket: MemoryBucket) => bucket as unknown as KV;
const emptyMirror = <T>(): Mirror<T> => ({
  get: () => undefined,
  values: () => new Map<string, T>().values(),
  size: 0,
  loaded: Promise.resolve(),
});
/** Fails the test if a request that should have been answered without it reaches it. */
const untouchable = new Proxy(
  {},
  {
    get: (_, key) => {
      throw new Error(`reached (${String(key)}) by a request that should not have`);
    },
  },
) as never;

const pipelineBucket = new MemoryBucket();
const botBucket = new MemoryBucket();
const app = serviceApp(
  telemetry,
  apiRoutes({
    pipelines: new Store(asKv(pipelineBucket), 'pipelines', Pipeline, telemetry),
    pipelineMirror: emptyMirror(),
    queue: untouchable,
    executions: emptyMirror(),
    bots: new Store(asKv(botBucket), 'bots', Bot, telemetry),
    botMirror: emptyMirror(),
    portfolio: untouchable,
    market: untouchable,
  }),
);
const document = openApiDocument();

/** The shell's probes: startService adds them, so this app does not have them. */
const probes = new Set(['/health', '/ready']);
const resourcePaths = Object.keys(document.paths).filter((path) => !probes.has(path));
const concrete = (path: string) => path.replace('{id}', 'some-id');
const declaredMethods = (path: string) =>
  Object.keys(document.paths[path] ?? {})
    .map((method) => method.toUpperCase())
    .sort();
const operations = () =>
  Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  );

function send(method: string, path: string, body?: unknown): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    }),
  );
}
async function errorOf(response: Response) {
  return ((await response.json()) as { error: { code: string; issues?: { field: string; rule: string }[] } })
    .error;
}
const declares = (path: string, method: string, status: number) =>
  String(status) in (document.paths[path]?.[method as 'get']?.responses ?? {});

const pipelineInput = { name: 'contract', strategy: 'momentum', symbols: ['BTCUSD'] };

describe('the document and the routes', () => {
  it('have the same paths and methods', () => {
    const served = new Set<string>();
    for (const route of app.routes) {
      if (route.method === 'ALL') continue;
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      served.add(`${route.method} ${path}`);
      if (route.method === 'GET') served.add(`HEAD ${path}`);
      served.add(`OPTIONS ${path}`);
    }
    const declared = resourcePaths.flatMap((path) =>
      declaredMethods(path).map((method) => `${method} ${path}`),
    );
    assert.deepEqual([...served].sort(), declared.sort());
  });

  it("OPTIONS on every path lists the document's methods in Allow, and every other method is a 405", async () => {
    for (const path of resourcePaths) {
      const options = await send('OPTIONS', concrete(path));
      assert.equal(options.status, 204, path);
      const allowed = options.headers.get('allow')?.split(', ').sort();
      assert.deepEqual(allowed, declaredMethods(path), path);
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']) {
        if (allowed?.includes(method)) continue;
        // A body the method rules must not even look at, where the method may carry one.
        const body = method === 'GET' || method === 'HEAD' ? undefined : pipelineInput;
        const refused = await send(method, concrete(path), body);
        assert.equal(refused.status, 405, `${method} ${path}`);
        assert.equal(refused.headers.get('allow'), options.headers.get('allow'));
        if (method !== 'HEAD') assert.equal((await errorOf(refused)).code, 'method_not_allowed');
      }
    }
  });
});

describe('the declared statuses', () => {
  it('every body an operation reads is required, and leaving it out is a 400 naming body', async () => {
    const withBodies = operations().filter(({ operation }) => 'requestBody' in operation);
    assert.deepEqual(
      withBodies.map(({ method, path }) => `${method} ${path}`),
      ['post /pipelines', 'put /pipelines/{id}', 'patch /pipelines/{id}', 'post /bots'],
    );
    for (const { path, method, operation } of withBodies) {
      assert.equal(operation.requestBody?.required, true);
      const response = await send(method.toUpperCase(), concrete(path));
      assert.equal(response.status, 400, `${method} ${path}`);
      assert.deepEqual(
        (await errorOf(response)).issues?.map((issue) => [issue.field, issue.rule]),
        [['body', 'required']],
      );
    }
  });

  it("each operation declares the shell's answers for what it takes, and every error is the Error schema", () => {
    const { responses } = document.components;
    for (const { path, method, operation } of operations()) {
      const statuses = Object.keys(operation.responses);
      const where = `${method} ${path}`;
      if (!probes.has(path)) assert.ok(statuses.includes('503'), where);
      if (path.includes('{id}') && method !== 'options')
        for (const status of ['400', '404']) assert.ok(statuses.includes(status), where);
      if (['post', 'put', 'patch'].includes(method))
        for (const status of ['413', '415']) assert.ok(statuses.includes(status), where);
      for (const [status, response] of Object.entries(operation.responses)) {
        // A 503 of /ready is its report, not an error; HEAD has no bodies.
        if (Number(status) < 400 || method === 'head' || path === '/ready') continue;
        const resolved =
          '$ref' in response
            ? responses[response.$ref.replace('#/components/responses/', '') as keyof typeof responses]
            : response;
        assert.deepEqual(
          resolved.content?.['application/json'].schema,
          { $ref: '#/components/schemas/Error' },
          where,
        );
      }
    }
  });

  it('a bot for a pipeline that does not exist, or that does not trade its symbol, is a 422', async () => {
    const unknown = await send('POST', '/bots', {
      name: 'b',
      pipelineId: 'no-such-pipeline',
      symbol: 'BTCUSD',
    });
    assert.equal(unknown.status, 422);
    assert.deepEqual(
      (await errorOf(unknown)).issues?.map((issue) => [issue.field, issue.rule]),
      [['body.pipelineId', 'exists']],
    );
    const created = Pipeline.parse(await (await send('POST', '/pipelines', pipelineInput)).json());
    const untraded = await send('POST', '/bots', { name: 'b', pipelineId: created.id, symbol: 'AAPL' });
    assert.equal(untraded.status, 422);
    assert.equal((await errorOf(untraded)).issues?.[0]?.rule, 'traded_by_pipeline');
    const bot = await send('POST', '/bots', { name: 'b', pipelineId: created.id, symbol: 'BTCUSD' });
    assert.equal(bot.status, 201);
    Bot.parse(await bot.json());
    assert.ok(declares('/bots', 'post', 422));
  });

  it('a change that loses its compare-and-set on every retry is a 409, retried until then', async () => {
    const created = Pipeline.parse(await (await send('POST', '/pipelines', pipelineInput)).json());
    const replaced = await send('PUT', `/pipelines/${created.id}`, { ...pipelineInput, name: 'replaced' });
    assert.equal(replaced.status, 200);
    assert.equal(Pipeline.parse(await replaced.json()).name, 'replaced');
    pipelineBucket.failure = 'lose every compare-and-set';
    try {
      for (const method of ['PUT', 'PATCH']) {
        const lost = await send(method, `/pipelines/${created.id}`, pipelineInput);
        assert.equal(lost.status, 409, method);
        assert.equal((await errorOf(lost)).code, 'conflict');
        assert.ok(declares('/pipelines/{id}', method.toLowerCase(), 409));
      }
    } finally {
      pipelineBucket.failure = 'none';
    }
    assert.equal((await send('PUT', '/pipelines/missing', pipelineInput)).status, 404);
  });

  it('a request that finds NATS out of reach is a 503 with Retry-After', async () => {
    botBucket.failure = 'time out';
    try {
      const response = await send('GET', '/bots/some-id');
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '1');
      assert.equal((await errorOf(response)).code, 'unavailable');
    } finally {
      botBucket.failure = 'none';
    }
  });

  it('the body limit is the 64 KiB the document states', async () => {
    assert.match(document.components.responses.PayloadTooLarge.description, /65,536 bytes/);
    const sized = (bytes: number) => {
      const body = JSON.stringify({ ...pipelineInput, name: '' });
      return body.replace('"name":""', `"name":"${'x'.repeat(bytes - body.length)}"`);
    };
    const at = (bytes: number) =>
      app.request('/pipelines', {
        method: 'POST',
        body: sized(bytes),
        headers: { 'content-type': 'application/json', 'content-length': String(bytes) },
      });
    assert.equal((await at(65_536)).status, 400, 'at the limit: read, and refused for its too long name');
    assert.equal((await at(65_537)).status, 413);
  });
});
