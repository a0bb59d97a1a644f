/**
 * A service context for tests: a real NATS connection with the platform's topology and
 * in-memory telemetry, without an HTTP server or process signals.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsInstrumentation } from '@tradeobs/telemetry/nats';
import { type TestTelemetry, testTelemetry } from '@tradeobs/telemetry/testing';
import { catalog, type PlatformCatalog } from './metrics.ts';
import type { ServiceContext } from './service.ts';
import { declareStreams, subjectTemplates } from './topology.ts';

export interface TestContext extends TestTelemetry<PlatformCatalog> {
  context: ServiceContext;
  close(): Promise<void>;
}

export async function testContext(natsUrl: string, name = 'test'): Promise<TestContext> {
  const telemetry = testTelemetry({ LOG_LEVEL: 'error' }, catalog);
  const nc = await connect({ servers: natsUrl, name });
  const jsm = await jetstreamManager(nc);
  await declareStreams(jsm);
  const stop = new AbortController();
  const context: ServiceContext = {
    name,
    telemetry: telemetry.telemetry,
    nc,
    js: jetstream(nc),
    jsm,
    messaging: new NatsInstrumentation(telemetry.telemetry, { subjectTemplates, connection: nc }),
    stopping: stop.signal,
    replicas: 1,
    natsConnected: () => !nc.isClosed(),
  };
  return {
    ...telemetry,
    context,
    async close() {
      stop.abort();
      await nc.drain();
      await telemetry.telemetry.shutdown();
    },
  };
}
