/**
 * The NATS connection a service lives on: reconnects forever (a NATS restart must never need a
 * service restart), and every disconnection or error is a log line and a point in
 * nats.connection.errors.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { primeCounter } from '@tradeobs/telemetry/catalog';
import type { PlatformTelemetry } from './telemetry.ts';

const connectionTroubles = ['disconnect', 'error', 'staleConnection'] as const;

export async function connectNats(
  servers: readonly string[],
  name: string,
  telemetry: Pick<PlatformTelemetry, 'logger' | 'metrics'>,
): Promise<NatsConnection> {
  const { logger, metrics } = telemetry;
  const nc = await connect({
    servers: [...servers],
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
  });
  logger.info('connected to NATS', { server: nc.getServer() });
  primeCounter(metrics.natsConnectionErrors, { kind: connectionTroubles });
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
        case 'error':
        case 'staleConnection':
          metrics.natsConnectionErrors.add(1, { kind: status.type });
          logger.warn('NATS connection trouble', { kind: status.type, server: nc.getServer() });
          break;
        case 'reconnect':
          logger.info('reconnected to NATS', { server: nc.getServer() });
          break;
        default:
          break;
      }
    }
  })();
  return nc;
}
