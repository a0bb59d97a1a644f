/**
 * The service shell's HTTP rules on a small app of its own: 405 with `Allow` and OPTIONS from
 * the registered routes (before any body rule, with the path's template on the span), required
 * JSON bodies, and the statuses that NATS failures and lost compare-and-sets become.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { testTelemetry } from '@tradeobs/telemetry/testing';
import { z } from 'zod';
import { failureKind } from '../src/errors.ts';
import { validate } from '../src/http.ts';
import { catalog } from '../src/metrics.ts';
import { serviceApp } from '../src/service.ts';

const { telemetry, spans } = testTelemetry({ LOG_LEVEL: 'error' }, catalog);
let failure: Error = new Error('unset');
const app = serviceApp(telemetry, (routes) => {
  // Middleware for a subtree gives it no method.
  routes.use('/things/*', (_, next) => next());
  routes.get('/things', (c) => c.json([]));
  routes.post('/things', validate('json', z.object({ name: z.string() }).strict()), (c) =>
    c.json(c.req.valid('json'), 201),
  );
  routes.get('/things/:id', (c) => c.json({ id: c.req.param('id') }));
  routes.delete('/things/:id', (c) => c.body(null, 204));
  // A second template for one path of the first.
  routes.post('/things/export', (c) => c.body(null, 202));
  routes.get('/failing', () => {
    throw failure;
  });
});

const send = (path: string, init: RequestInit = {}) => app.request(path, init);
const json = (body: string, type = 'application/json'): RequestInit => ({
  method: 'POST',
  body,
  headers: { 'content-type': type },
});
async function errorOf(response: Response) {
  return ((await response.json()) as { error: { code: string; issues?: { field: string; rule: string }[] } })
    .error;
}

describe('the method rules', () => {
  it('a method the path lacks is a 405 in the error shape, with the methods it has in Allow', async () => {
    const response = await send('/things', { method: 'DELETE' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD, POST, OPTIONS');
    assert.equal((await errorOf(response)).code, 'method_not_allowed');
  });

  it('OPTIONS is a 204 with Allow and no body', async () => {
    const response = await send('/things/7', { method: 'OPTIONS' });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('allow'), 'GET, HEAD, DELETE, OPTIONS');
    assert.equal(await response.text(), '');
  });

  it('HEAD is answered wherever GET is, and is a 405 where it is not', async () => {
    const head = await send('/things/7', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const none = await send('/things/export', { method: 'PUT' });
    assert.equal(none.status, 405);
    // Both templates match /things/export: the methods of both are allowed.
    assert.equal(none.headers.get('allow'), 'GET, HEAD, POST, DELETE, OPTIONS');
    assert.equal((await send('/things/export', { method: 'DELETE' })).status, 204);
    assert.equal((await send('/things/export', { method: 'HEAD' })).status, 200);
  });

  it('a wrong method is a 405 whatever its body: before the 415, 413 and 400 rules', async () => {
    for (const init of [
      json('x'.repeat(100_000), 'text/plain'),
      json('x'.repeat(100_000)),
      json('{"nope": '),
    ]) {
      const response = await send('/things/7', { ...init, method: 'PUT' });
      assert.equal(response.status, 405);
    }
  });

  it('an unknown path stays a 404', async () => {
    const response = await send('/nothing/here', { method: 'DELETE' });
    assert.equal(response.status, 404);
    assert.equal((await errorOf(response)).code, 'not_found');
  });

  it("the span of a 405 or an OPTIONS carries the path's template and is no error", async () => {
    spans.reset();
    await send('/things/42', { method: 'POST' });
    await send('/things/42', { method: 'OPTIONS' });
    const [refused, options] = spans.getFinishedSpans();
    assert.equal(refused?.name, 'POST /things/:id');
    assert.equal(refused?.attributes['http.route'], '/things/:id');
    assert.equal(refused?.attributes['http.response.status_code'], 405);
    assert.equal(refused?.status.code, SpanStatusCode.UNSET);
    assert.equal(options?.name, 'OPTIONS /things/:id');
    assert.equal(options?.attributes['http.response.status_code'], 204);
  });
});

describe('the body rules', () => {
  it('a required body that is missing, empty or only white space is a 400 naming body', async () => {
    for (const init of [
      { method: 'POST' },
      { method: 'POST', headers: { 'content-length': '0' } },
      json(''),
      json(' \n '),
    ]) {
      const response = await send('/things', init);
      assert.equal(response.status, 400);
      assert.deepEqual(
        (await errorOf(response)).issues?.map((issue) => [issue.field, issue.rule]),
        [['body', 'required']],
      );
    }
  });

  it('a body that is not JSON by its type is a 415, one that is not JSON by its text a 400', async () => {
    assert.equal((await send('/things', json('{}', 'text/plain'))).status, 415);
    assert.equal((await send('/things', json('{}', 'application/json-seq'))).status, 415);
    const malformed = await send('/things', json('{"name": '));
    assert.equal(malformed.status, 400);
    assert.deepEqual(
      (await errorOf(malformed)).issues?.map((issue) => [issue.field, issue.rule]),
      [['body', 'json']],
    );
    assert.equal((await send('/things', json('{"name": "x"}', 'application/vnd.x+json'))).status, 201);
  });

  it('a body past 64 KiB is a 413, by its length or, sent in chunks, by what arrives', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(70_000) });
    assert.equal((await send('/things', json(big))).status, 413);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const response = await send('/things', {
      method: 'POST',
      body: chunked,
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      duplex: 'half',
    });
    assert.equal(response.status, 413);
  });
});

describe('the error mapping', () => {
  const answerTo = async (error: Error) => {
    failure = error;
    return send('/failing');
  };

  it('NATS out of reach is a 503 with Retry-After: a timeout, no responders, a closed connection', async () => {
    for (const error of [
      new TimeoutError(),
      new RequestError('no responders', { cause: new NoRespondersError('$JS.API.x') }),
      new ClosedConnectionError(),
    ]) {
      const response = await answerTo(error);
      assert.equal(response.status, 503, error.name);
      assert.equal(response.headers.get('retry-after'), '1');
      assert.equal((await errorOf(response)).code, 'unavailable');
    }
  });

  it('a compare-and-set lost on every retry is a 409, anything else a 500', async () => {
    const lost = await answerTo(
      new JetStreamApiError({ code: 400, err_code: 10071, description: 'wrong last sequence: 7' }),
    );
    assert.equal(lost.status, 409);
    assert.equal((await errorOf(lost)).code, 'conflict');
    const bug = await answerTo(new TypeError('x is undefined'));
    assert.equal(bug.status, 500);
    assert.equal((await errorOf(bug)).code, 'internal_error');
  });

  it('classifies the errors of the NATS client by their kind', () => {
    assert.equal(failureKind(new TimeoutError()), 'timeout');
    assert.equal(failureKind(new NoRespondersError('x')), 'no_responders');
    assert.equal(failureKind(new RequestError('x', { cause: new NoRespondersError('x') })), 'no_responders');
    assert.equal(failureKind(new RequestError('x')), 'other');
  });
});
