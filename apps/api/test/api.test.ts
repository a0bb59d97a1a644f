/**
 * The api's input rules, through its real routes and the platform's service app: every bad
 * request gets its status and a JSON error naming the field and the rule, before any storage
 * is touched (the stores here fail the test if reached).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initPlatformTelemetry, serviceApp } from '@tradeobs/platform';
import { apiRoutes } from '../src/app.ts';
import { openApiDocument } from '../src/openapi.ts';

const telemetry = initPlatformTelemetry({
  serviceName: 'api-test',
  serviceVersion: '0',
  env: { OTEL_METRICS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none', LOG_LEVEL: 'error' },
  registerGlobal: false,
});
/** Stands in for every store and queue, and fails the test if a refused request reaches it. */
const untouchable = new Proxy(
  {},
  {
    get: (_, key) => {
      throw new Error(`storage reached (${String(key)}) by a request that should have been refused`);
    },
  },
) as never;
const app = serviceApp(
  telemetry,
  apiRoutes({
    pipelines: untouchable,
    pipelineMirror: untouchable,
    queue: untouchable,
    executions: untouchable,
    bots: untouchable,
    botMirror: untouchable,
    portfolio: untouchable,
    market: untouchable,
  }),
);

interface ErrorBody {
  error: { code: string; message: string; issues?: { field: string; rule: string }[] };
}

async function send(path: string, init: RequestInit = {}): Promise<{ status: number; body: ErrorBody }> {
  const response = await app.request(path, init);
  return { status: response.status, body: (await response.json()) as ErrorBody };
}
const post = (path: string, body: string, type = 'application/json') =>
  send(path, { method: 'POST', body, headers: { 'content-type': type } });

describe('api input rules', () => {
  it('400 names each invalid field and the rule it broke', async () => {
    const { status, body } = await post(
      '/pipelines',
      JSON.stringify({ name: '', strategy: 'moon', symbols: ['BTCUSD'], extra: 1 }),
    );
    assert.equal(status, 400);
    assert.equal(body.error.code, 'validation_failed');
    assert.deepEqual(
      body.error.issues?.map((issue) => [issue.field, issue.rule]),
      [
        ['body.name', 'too_small'],
        ['body.strategy', 'invalid_value'],
        ['body.extra', 'unrecognized_keys'],
      ],
    );
  });

  it('400 for a body that is not JSON at all, naming the body', async () => {
    const { status, body } = await post('/pipelines', '{"name": ');
    assert.equal(status, 400);
    assert.deepEqual(
      body.error.issues?.map((issue) => [issue.field, issue.rule]),
      [['body', 'json']],
    );
  });

  it('400 for bad path and query parameters', async () => {
    const path = await send('/pipelines/has%20space');
    assert.equal(path.status, 400);
    assert.equal(path.body.error.issues?.[0]?.field, 'path.id');
    const query = await send('/executions?limit=0&status=lost');
    assert.equal(query.status, 400);
    assert.deepEqual(
      query.body.error.issues?.map((issue) => issue.field),
      ['query.status', 'query.limit'],
    );
  });

  it('415 for a body that is not JSON by its content type', async () => {
    const { status, body } = await post('/pipelines', 'name=x', 'text/plain');
    assert.equal(status, 415);
    assert.equal(body.error.code, 'unsupported_media_type');
  });

  it('413 for a body over the limit', async () => {
    const { status, body } = await post('/pipelines', JSON.stringify({ name: 'x'.repeat(70_000) }));
    assert.equal(status, 413);
    assert.equal(body.error.code, 'payload_too_large');
  });

  it('404 in the same shape for a route that does not exist', async () => {
    const { status, body } = await send('/nowhere', { method: 'DELETE' });
    assert.equal(status, 404);
    assert.equal(body.error.code, 'not_found');
  });
});

describe('openapi document', () => {
  it('describes every route and error, with schemas from the validating ones', () => {
    const document = openApiDocument();
    assert.equal(document.openapi, '3.1.0');
    for (const path of [
      '/pipelines',
      '/pipelines/{id}',
      '/pipelines/{id}/executions',
      '/executions',
      '/executions/{id}',
      '/bots',
      '/bots/{id}/start',
      '/portfolio',
    ]) {
      assert.ok(path in document.paths, path);
    }
    const input = document.components.schemas.PipelineInput as {
      required?: string[];
      properties?: Record<string, unknown>;
    };
    assert.deepEqual(input.required, ['name', 'strategy', 'symbols']);
    assert.ok(input.properties?.riskLimits);
  });
});
