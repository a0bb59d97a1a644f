/**
 * The gateway profiles on real processes: two agent collectors in front of two gateway
 * collectors, all on loopback. The spans of one trace, sent through different agents, land on
 * the same gateway; both gateways get traces; and a gateway killed with SIGKILL under load
 * loses no span that was accepted, once it is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, type Tracer, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { LOOPBACK } from '../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { fetchTrace } from '../../infra/runner/trace.ts';
import { eventually } from '../support/poll.ts';
import { collectorPorts, startCollector, stopProcesses, type TestProcess } from '../support/processes.ts';
import { useTemporaryStackState } from '../support/stack.ts';
import { gatewaysOf } from '../support/traces.ts';

const gatewayPorts = [collectorPorts(24000), collectorPorts(25000)] as const;
const agentPorts = [collectorPorts(26000), collectorPorts(27000)] as const;

let gateways: TestProcess[] = [];
const providers: TracerProvider[] = [];
let tracers: Tracer[] = [];

/** One trace of two spans: the root through agent 0, its child through agent 1. */
function sendTrace(index: number): string {
  const [viaAgent0, viaAgent1] = tracers as [Tracer, Tracer];
  const root = viaAgent0.startSpan(`order ${index}`);
  const child = viaAgent1.startSpan('fill', {}, trace.setSpan(context.active(), root));
  child.end();
  root.end();
  return root.spanContext().traceId;
}

async function flush(): Promise<void> {
  await Promise.all(providers.map((provider) => provider.forceFlush()));
}

async function whereTracesLanded(traceIds: readonly string[]): Promise<Map<string, string[]>> {
  return eventually(
    `all ${traceIds.length} traces complete in Jaeger`,
    async () => {
      const landed = new Map<string, string[]>();
      for (const traceId of traceIds) {
        const data = await fetchTrace(traceId);
        const where = data ? gatewaysOf(data) : [];
        if (where.length < 2) return undefined;
        landed.set(traceId, where);
      }
      return landed;
    },
    { timeoutMs: 120_000, intervalMs: 2_000 },
  );
}

describe('gateway tier on real processes', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    await startStack(undefined, ['prometheus', 'jaeger']);
    gateways = await Promise.all(
      gatewayPorts.map((ports, i) =>
        startCollector(`gateway-${i}`, 'gateway', ports, { GATEWAY_NAME: `gateway-${i}` }),
      ),
    );
    const gatewayEnv = {
      GATEWAY_0_ENDPOINT: `${LOOPBACK}:${gatewayPorts[0].grpc}`,
      GATEWAY_1_ENDPOINT: `${LOOPBACK}:${gatewayPorts[1].grpc}`,
    };
    await Promise.all(
      agentPorts.map((ports, i) => startCollector(`agent-${i}`, 'gateway-agent', ports, gatewayEnv)),
    );
    tracers = agentPorts.map((ports, i) => {
      const provider = new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': `gateway-test-${i}` }),
        spanProcessors: [
          new BatchSpanProcessor({
            exporter: new OTLPTraceExporter({ url: `http://${LOOPBACK}:${ports.grpc}` }),
            scheduledDelayMillis: 100,
            maxQueueSize: 100_000,
          }),
        ],
      });
      providers.push(provider);
      return provider.getTracer('gateway-test');
    });
  });

  after(async () => {
    await Promise.all(providers.map((provider) => provider.shutdown()));
    await stopProcesses();
    await stopStack();
  });

  it('sends every span of a trace to the same gateway, and uses both gateways', async () => {
    const traceIds = Array.from({ length: 100 }, (_, i) => sendTrace(i));
    await flush();
    const landed = await whereTracesLanded(traceIds);
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

  it('loses no accepted span when a gateway is killed under load', async () => {
    const traceIds: string[] = [];
    const [, gateway1] = gateways as [TestProcess, TestProcess];
    // About 4 seconds of traffic, with the gateway killed in the middle of it.
    for (let round = 0; round < 40; round += 1) {
      for (let i = 0; i < 10; i += 1) traceIds.push(sendTrace(round * 10 + i));
      if (round === 15) await gateway1.stop('SIGKILL');
      await sleep(100);
    }
    await flush();
    await sleep(3_000);
    await gateway1.start();
    const landed = await whereTracesLanded(traceIds);
    assert.equal(landed.size, traceIds.length, 'every trace sent is complete in Jaeger');
    const split = [...landed.values()].filter((where) => new Set(where).size > 1);
    assert.deepEqual(split, []);
  });
});
