import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderLogRecords } from './logs.ts';
import { buildSpanTree, checkTraceId, type OtlpTraceData, renderSpanTree } from './trace.ts';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

function span(
  spanId: string,
  parentSpanId: string,
  name: string,
  startMs: number,
  endMs: number,
  extra = {},
) {
  return {
    traceId,
    spanId,
    parentSpanId,
    name,
    kind: 2,
    startTimeUnixNano: String(BigInt(startMs) * 1_000_000n),
    endTimeUnixNano: String(BigInt(endMs) * 1_000_000n),
    ...extra,
  };
}

const service = (name: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: name } }] });

const twoServices: OtlpTraceData = {
  resourceSpans: [
    {
      resource: service('worker'),
      scopeSpans: [
        {
          spans: [
            span('c', 'a', 'process executions', 20, 80, {
              kind: 'SPAN_KIND_CONSUMER',
              status: { code: 'STATUS_CODE_ERROR', message: 'risk limit breached' },
            }),
          ],
        },
      ],
    },
    {
      resource: service('api'),
      scopeSpans: [
        {
          spans: [
            span('a', '', 'POST /executions', 0, 100),
            span('b', 'a', 'send executions', 5, 10, { kind: 4 }),
          ],
        },
      ],
    },
  ],
};

describe('trace tree', () => {
  it('nests spans under their parents across services, in start order', () => {
    const [root, ...others] = buildSpanTree(twoServices);
    assert.equal(others.length, 0);
    assert.equal(root?.name, 'POST /executions');
    assert.deepEqual(
      root?.children.map((c) => [c.service, c.name, c.kind]),
      [
        ['api', 'send executions', 'PRODUCER'],
        ['worker', 'process executions', 'CONSUMER'],
      ],
    );
    assert.equal(root?.durationMs, 100);
  });

  it('renders services, kinds, durations and errors', () => {
    const text = renderSpanTree(traceId, buildSpanTree(twoServices));
    assert.match(text, /3 spans, 2 services \(api, worker\), 1 with errors/);
    assert.match(text, /api {2}POST \/executions {2}\[SERVER\] {2}100\.00 ms/);
    assert.match(text, /├─ api {2}send executions {2}\[PRODUCER\] {2}5\.00 ms/);
    assert.match(
      text,
      /└─ worker {2}process executions {2}\[CONSUMER\] {2}60\.00 ms {2}ERROR: risk limit breached/,
    );
  });

  it('keeps a span whose parent never arrived as a root of its own', () => {
    const orphan: OtlpTraceData = {
      resourceSpans: [
        { resource: service('worker'), scopeSpans: [{ spans: [span('x', 'missing', 'late', 0, 1)] }] },
      ],
    };
    const roots = buildSpanTree(orphan);
    assert.equal(roots.length, 1);
    assert.equal(roots[0]?.name, 'late');
  });
});

describe('logs of a trace', () => {
  it('counts the log records of each span beside it, and in all', () => {
    const counts = new Map([
      ['a', 2],
      ['c', 1],
    ]);
    const text = renderSpanTree(traceId, buildSpanTree(twoServices), counts);
    assert.match(text, /3 spans, 2 services \(api, worker\), 1 with errors, 3 log records/);
    assert.match(text, /api {2}POST \/executions {2}\[SERVER\] {2}100\.00 ms {2}2 logs/);
    assert.match(text, /send executions {2}\[PRODUCER\] {2}5\.00 ms\n/, 'no count where a span has none');
    assert.match(text, /process executions {2}\[CONSUMER\] {2}60\.00 ms {2}1 log {2}ERROR/);
  });

  it('prints a record a line: time, service, severity, message, span, its own attributes', () => {
    const text = renderLogRecords([
      {
        _time: '2026-12-03T09:00:00.1Z',
        _msg: 'execution finished',
        _stream: '{service.name="worker"}',
        'service.name': 'worker',
        'service.instance.id': 'b7c1',
        severity_text: 'info',
        severity_number: '9',
        trace_id: traceId,
        span_id: 'c',
        pipeline_id: 'p-1',
        reason: 'risk limit breached',
      },
    ]);
    assert.equal(
      text,
      '2026-12-03T09:00:00.1Z  worker              INFO   execution finished  span=c  pipeline_id=p-1 reason="risk limit breached"',
    );
  });

  it('names a malformed trace id', () => {
    assert.throws(
      () => checkTraceId('xyz'),
      /trace id "xyz" is not valid: expected 32 hexadecimal characters/,
    );
    assert.equal(checkTraceId(traceId.toUpperCase()), traceId);
  });
});
