/**
 * The gateway profiles on real processes: two agent collectors in front of two gateway
 * collectors, all on loopback, the hop between them over TLS with a bearer token, as across a
 * network. The spans of one trace, sent through different agents, land on the same gateway,
 * which tail-samples whole traces: every error and slow trace kept, a share of the rest, span
 * metrics counted from every span before sampling. A gateway stopped under load loses nothing; one
 * killed with SIGKILL loses only the traces it held undecided. A client without the token, or
 * without TLS, is refused and counted, and nothing it sent reaches Jaeger.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials } from '@grpc/grpc-js';
import {
  context,
  type SpanContext,
  SpanStatusCode,
  type Tracer,
  trace,
  TraceFlags,
} from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace';
import { LOOPBACK } from '../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { fetchTrace, findTraces } from '../../infra/runner/trace.ts';
import { type GatewayCredentials, makeGatewayCredentials } from '../support/certificates.ts';
import { eventually } from '../support/poll.ts';
import { collectorPorts, startCollector, stopProcesses, type TestProcess } from '../support/processes.ts';
import { query, scrapedValue } from '../support/prometheus.ts';
import { useTemporaryStackState } from '../support/stack.ts';
import { gatewaysOf } from '../support/traces.ts';

const gatewayPorts = [collectorPorts(24000), collectorPorts(25000)] as const;
const agentPorts = [collectorPorts(26000), collectorPorts(27000)] as const;
const runId = randomUUID().slice(0, 8);

/** Short enough for a test, long enough for both spans of a trace to arrive first. */
const decisionWaitMs = 3_000;
const samplingPercentage = 25;
const slowThresholdMs = 500;

let workDir: string;
let secrets: GatewayCredentials;
let gateways: TestProcess[] = [];
const providers: TracerProvider[] = [];

/** Two tracers of two services, the root's through agent 0 and the child's through agent 1. */
interface TracerPair {
  root: Tracer;
  child: Tracer;
}

function tracers(prefix: string): TracerPair {
  const [root, child] = agentPorts.map((ports, i) => {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': `${prefix}-${i === 0 ? 'root' : 'child'}` }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `http://${LOOPBACK}:${ports.grpc}` }),
          scheduledDelayMillis: 100,
          maxQueueSize: 100_000,
          maxExportBatchSize: 2_000,
        }),
      ],
    });
    providers.push(provider);
    return provider.getTracer('gateway-test');
  }) as [Tracer, Tracer];
  return { root, child };
}

/**
 * normal: fast, no error. error: the child failed, so only the whole trace shows it. slow: the
 * root took twice the threshold. failing: both spans failed, so any part of the trace alone is
 * kept, which the stop and kill tests need (a stopping gateway decides on what has arrived).
 */
type Shape = 'normal' | 'error' | 'slow' | 'failing';

interface SentTrace {
  root: SpanContext;
  shape: Shape;
  sentAt: number;
}

/** One trace of two spans; an error is on the child, slowness on the root. */
function sendTrace(pair: TracerPair, shape: Shape, name: string): SentTrace {
  const end = Date.now();
  const start = end - (shape === 'slow' ? 2 * slowThresholdMs : 5);
  const root = pair.root.startSpan(name, { startTime: start });
  const child = pair.child.startSpan('fill', { startTime: start + 1 }, trace.setSpan(context.active(), root));
  if (shape === 'error' || shape === 'failing')
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'injected' });
  if (shape === 'failing') root.setStatus({ code: SpanStatusCode.ERROR, message: 'injected' });
  child.end(start + 3);
  root.end(end);
  return { root: root.spanContext(), shape, sentAt: end };
}

async function flush(): Promise<void> {
  await Promise.all(providers.map((provider) => provider.forceFlush()));
}

/** The gateways that marked each span of a trace in Jaeger ([] when Jaeger has none of it). */
async function spansOf(traceId: string): Promise<string[]> {
  const data = await fetchTrace(traceId);
  return data ? gatewaysOf(data) : [];
}

/** Waits until every trace has `spans` spans in Jaeger; returns where each landed. */
async function whenComplete(sent: readonly SentTrace[], spans = 2): Promise<Map<string, string[]>> {
  return eventually(
    `all ${sent.length} traces complete in Jaeger`,
    async () => {
      const landed = new Map<string, string[]>();
      const missing: SentTrace[] = [];
      for (const t of sent) {
        const where = await spansOf(t.root.traceId);
        if (where.length < spans) missing.push(t);
        else landed.set(t.root.traceId, where);
      }
      if (missing.length === 0) return landed;
      const [first] = missing as [SentTrace];
      throw new Error(
        `${missing.length} incomplete, e.g. ${first.root.traceId} (${gatewayFor(first.root.traceId)}, sent at ${first.sentAt})`,
      );
    },
    { timeoutMs: 120_000, intervalMs: 2_000 },
  );
}

/** The agents shard by the trace id's last hex digit (profiles/gateway-agent.yaml). */
function gatewayFor(traceId: string): string {
  return /[0-7]$/.test(traceId) ? 'gateway-0' : 'gateway-1';
}

function startGateway(i: number): Promise<TestProcess> {
  return startCollector(`gateway-${i}`, 'gateway', gatewayPorts[i] as (typeof gatewayPorts)[number], {
    GATEWAY_NAME: `gateway-${i}`,
    ...secrets.gateway,
    TAIL_SAMPLING_DECISION_WAIT: `${decisionWaitMs}ms`,
    TAIL_SAMPLING_PERCENTAGE: String(samplingPercentage),
    TAIL_SAMPLING_LATENCY_THRESHOLD_MS: String(slowThresholdMs),
  });
}

/** About 4 s of kept (failing) traces, 100 a second, with `disrupt` at 1.5 s. */
async function trafficAround(pair: TracerPair, disrupt: () => Promise<void>): Promise<SentTrace[]> {
  const sent: SentTrace[] = [];
  for (let round = 0; round < 40; round += 1) {
    for (let i = 0; i < 10; i += 1) sent.push(sendTrace(pair, 'failing', `order ${round}.${i}`));
    if (round === 15) await disrupt();
    await sleep(100);
  }
  await flush();
  return sent;
}

/** One OTLP/HTTP request straight to a gateway, over TLS, with whatever authorization given. */
function postToGateway(authorization?: string): Promise<number> {
  const body = JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: `intruder-${runId}` } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: randomUUID().replaceAll('-', ''),
                spanId: randomUUID().replaceAll('-', '').slice(0, 16),
                name: 'intrusion',
                startTimeUnixNano: String(BigInt(Date.now() - 10) * 1_000_000n),
                endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
              },
            ],
          },
        ],
      },
    ],
  });
  return new Promise((resolve, reject) => {
    readFile(secrets.certificates.ca)
      .then((ca) => {
        const req = request(
          `https://${LOOPBACK}:${gatewayPorts[0].http}/v1/traces`,
          {
            method: 'POST',
            ca,
            headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      })
      .catch(reject);
  });
}

/** Exports one span with a gRPC exporter that has the given transport and no token. */
async function exportWithoutToken(url: string, secure: boolean): Promise<ExportResultCode> {
  const exporter = new OTLPTraceExporter({
    url,
    ...(secure ? { credentials: credentials.createSsl(await readFile(secrets.certificates.ca)) } : {}),
    timeoutMillis: 5_000,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': `intruder-${runId}` }),
  });
  const span = provider.getTracer('intruder').startSpan('intrusion');
  span.end();
  const code = await new Promise<ExportResultCode>((resolve) => {
    // The SDK's span is its own ReadableSpan; the API's type does not say so.
    exporter.export([span as unknown as ReadableSpan], (result) => resolve(result.code));
  });
  await exporter.shutdown();
  return code;
}

describe('gateway tier on real processes', { timeout: 15 * 60_000 }, () => {
  const sampled: SentTrace[] = [];
  const kept = new Set<string>();

  before(async () => {
    await useTemporaryStackState();
    workDir = await mkdtemp(join(tmpdir(), 'gateway-test-'));
    secrets = await makeGatewayCredentials(workDir);
    await startStack(undefined, ['prometheus', 'jaeger']);
    gateways = await Promise.all([startGateway(0), startGateway(1)]);
    const agentEnv = {
      GATEWAY_0_ENDPOINT: `${LOOPBACK}:${gatewayPorts[0].grpc}`,
      GATEWAY_1_ENDPOINT: `${LOOPBACK}:${gatewayPorts[1].grpc}`,
      ...secrets.agent,
    };
    await Promise.all(
      agentPorts.map((ports, i) => startCollector(`agent-${i}`, 'gateway-agent', ports, agentEnv)),
    );
  });

  after(async () => {
    await Promise.all(providers.map((provider) => provider.shutdown()));
    await stopProcesses();
    await stopStack();
    await rm(workDir, { recursive: true, force: true });
  });

  it('sends every span of a trace to the same gateway over TLS, and uses both gateways', async () => {
    const pair = tracers(`routing-${runId}`);
    const sent = Array.from({ length: 100 }, (_, i) => sendTrace(pair, 'error', `order ${i}`));
    await flush();
    const landed = await whenComplete(sent);
    const split = [...landed.values()].filter((where) => new Set(where).size > 1);
    assert.deepEqual(split, [], 'no trace split across gateways');
    const perGateway = new Map<string, number>();
    for (const where of landed.values())
      perGateway.set(where[0] as string, (perGateway.get(where[0] as string) ?? 0) + 1);
    process.stdout.write(`# traces per gateway: ${JSON.stringify(Object.fromEntries(perGateway))}\n`);
    assert.ok(
      (perGateway.get('gateway-0') ?? 0) >= 20 && (perGateway.get('gateway-1') ?? 0) >= 20,
      'both gateways get traces',
    );
  });

  it('tail-samples whole traces: every error and slow trace, the configured share of the rest; span metrics count every span', async () => {
    const service = `sampled-${runId}`;
    const pair = tracers(service);
    const shapes: Shape[] = [
      ...Array<Shape>(100).fill('error'),
      ...Array<Shape>(100).fill('slow'),
      ...Array<Shape>(800).fill('normal'),
    ].sort(() => Math.random() - 0.5);
    // 1,000 traces in about 2 s.
    for (let i = 0; i < shapes.length; i += 50) {
      for (const shape of shapes.slice(i, i + 50)) sampled.push(sendTrace(pair, shape, `${shape} ${i}`));
      await sleep(100);
    }
    await flush();

    const mustKeep = sampled.filter((t) => t.shape !== 'normal');
    await whenComplete(mustKeep);
    // Every decision is made once the last trace's wait is over; then each trace is in Jaeger
    // whole or not at all.
    await sleep(decisionWaitMs + 5_000);
    const normal = sampled.filter((t) => t.shape === 'normal');
    const partial: string[] = [];
    for (const { root } of normal) {
      const spans = (await spansOf(root.traceId)).length;
      if (spans === 2) kept.add(root.traceId);
      else if (spans !== 0) partial.push(root.traceId);
    }
    for (const t of mustKeep) kept.add(t.root.traceId);
    assert.deepEqual(partial, [], 'no trace split between kept and dropped');

    // Binomial: 800 traces at 25% keep 200 ± 12.2 (one standard deviation); ±5 of them fails
    // a correct sampler about once in 1.7 million runs.
    const keptNormal = normal.filter((t) => kept.has(t.root.traceId)).length;
    const expected = (normal.length * samplingPercentage) / 100;
    const sd = Math.sqrt(normal.length * (samplingPercentage / 100) * (1 - samplingPercentage / 100));
    process.stdout.write(
      `# normal traces kept: ${keptNormal} of ${normal.length} (expected ${expected} ± ${sd.toFixed(1)})\n`,
    );
    assert.ok(
      Math.abs(keptNormal - expected) <= 5 * sd,
      `${keptNormal} kept, expected ${expected} ± ${5 * sd}`,
    );

    for (const side of ['root', 'child']) {
      await eventually(
        `span metrics of ${service}-${side} counting all ${shapes.length} spans`,
        async () => {
          const [sample] = await query(
            `sum(traces_span_metrics_calls_total{service_name="${service}-${side}"})`,
          );
          const calls = Number(sample?.value[1] ?? 0);
          assert.ok(calls <= shapes.length, `${calls} calls, more than the ${shapes.length} spans sent`);
          return calls === shapes.length ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 3_000 },
      );
    }

    // What the Telemetry Pipeline dashboard's tail-sampling row reads.
    const metricsUrl = `http://${LOOPBACK}:${gatewayPorts[0].metrics}/metrics`;
    const decided = await scrapedValue(
      metricsUrl,
      'otelcol_processor_tail_sampling_global_count_traces_sampled',
    );
    assert.ok(decided > 0, 'the sampler reports its decisions');
    const keptBy = await scrapedValue(
      metricsUrl,
      'otelcol_processor_tail_sampling_count_traces_sampled',
      'sampled="true"',
    );
    assert.ok(keptBy > 0, 'and which policy kept each trace');
    const exposition = await (await fetch(metricsUrl)).text();
    assert.match(exposition, /^otelcol_processor_tail_sampling_sampling_traces_on_memory\b/m);
  });

  it('sends late spans where their trace went: into a kept trace, not into a dropped one', async () => {
    const keptTrace = sampled.find((t) => t.shape === 'error');
    const droppedTrace = sampled.find((t) => t.shape === 'normal' && !kept.has(t.root.traceId));
    assert.ok(keptTrace && droppedTrace, 'a kept and a dropped trace from the sampling test');
    const pair = tracers(`late-${runId}`);
    for (const { root } of [keptTrace, droppedTrace]) {
      const parent = trace.setSpanContext(context.active(), { ...root, traceFlags: TraceFlags.SAMPLED });
      pair.child.startSpan('late fill', {}, parent).end();
    }
    await flush();
    await whenComplete([keptTrace], 3);
    await sleep(decisionWaitMs + 3_000);
    assert.deepEqual(await spansOf(droppedTrace.root.traceId), [], 'the dropped trace stays dropped');
  });

  it('a gateway stopped under load loses no trace it keeps: it decides what it holds first', async () => {
    const pair = tracers(`stop-${runId}`);
    const [, gateway1] = gateways as [TestProcess, TestProcess];
    const sent = await trafficAround(pair, () => gateway1.stop('SIGTERM'));
    await sleep(3_000);
    await gateway1.start();
    const landed = await whenComplete(sent);
    assert.equal(landed.size, sent.length, 'every trace sent is complete in Jaeger');
  });

  it('a gateway killed under load loses only the traces it held undecided', async () => {
    const pair = tracers(`kill-${runId}`);
    const [, gateway1] = gateways as [TestProcess, TestProcess];
    let killedAt = 0;
    const sent = await trafficAround(pair, async () => {
      await gateway1.stop('SIGKILL');
      killedAt = Date.now();
    });
    await sleep(3_000);
    await gateway1.start();
    // Everything the other gateway had, and everything sent after the kill (it waited in the
    // agents' persistent queues), arrives whole.
    const mustArrive = sent.filter((t) => gatewayFor(t.root.traceId) === 'gateway-0' || t.sentAt > killedAt);
    await whenComplete(mustArrive);
    const lost: SentTrace[] = [];
    for (const t of sent.filter((t) => !mustArrive.includes(t))) {
      const spans = (await spansOf(t.root.traceId)).length;
      assert.ok(spans === 0 || spans === 2, `trace ${t.root.traceId} whole or absent, not ${spans} spans`);
      if (spans === 0) lost.push(t);
    }
    process.stdout.write(
      `# SIGKILL: ${lost.length} of ${sent.length - mustArrive.length} traces held by the killed gateway lost\n`,
    );
    const undecided = lost.filter((t) => t.sentAt < killedAt - decisionWaitMs - 1_000);
    assert.deepEqual(undecided, [], 'only traces within the decision wait before the kill are lost');
  });

  it('refuses and counts a client without the token or without TLS; nothing it sent reaches Jaeger', async () => {
    const metricsUrl = `http://${LOOPBACK}:${gatewayPorts[0].metrics}/metrics`;
    assert.equal(await postToGateway(), 401, 'OTLP/HTTP without a token');
    assert.equal(await postToGateway('Bearer not-the-token'), 401, 'OTLP/HTTP with a wrong token');
    // The token file ends in a newline; an empty line must not become an empty token.
    assert.equal(await postToGateway('Bearer '), 401, 'OTLP/HTTP with an empty token');
    assert.equal(
      await exportWithoutToken(`https://${LOOPBACK}:${gatewayPorts[0].grpc}`, true),
      ExportResultCode.FAILED,
      'OTLP/gRPC over TLS without a token',
    );
    assert.equal(
      await exportWithoutToken(`http://${LOOPBACK}:${gatewayPorts[0].grpc}`, false),
      ExportResultCode.FAILED,
      'OTLP/gRPC in plaintext',
    );
    // The refusals the gateway counts, by its receivers' server metrics (detailed level). A
    // client that does not speak TLS fails the handshake before any request and is not counted.
    assert.equal(
      await scrapedValue(metricsUrl, 'http_server_request_duration_count', 'http_response_status_code="401"'),
      3,
      'OTLP/HTTP refusals counted',
    );
    assert.equal(
      await scrapedValue(
        metricsUrl,
        'rpc_server_call_duration_count',
        'rpc_response_status_code="UNAUTHENTICATED"',
      ),
      1,
      'OTLP/gRPC refusals counted',
    );
    await sleep(decisionWaitMs + 2_000);
    assert.deepEqual(
      await findTraces(`intruder-${runId}`, 10),
      [],
      'nothing from the refused clients in Jaeger',
    );
    // A sanity check that the token the agents use is what made the difference.
    assert.equal(await postToGateway(`Bearer ${secrets.token}`), 200, 'OTLP/HTTP with the token');
  });
});
