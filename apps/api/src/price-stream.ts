/**
 * GET /ws/prices: live ticks over WebSocket, for dashboards and UIs that want prices without
 * NATS. `?symbols=BTCUSD,ETHUSD` narrows the stream; an unknown symbol is refused with a 400
 * before the upgrade. Open connections are counted in websocket.connections.active.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerType } from '@hono/node-server';
import { symbols, type Tick, TradingSymbol } from '@tradeobs/platform';
import type { PlatformTelemetry } from '@tradeobs/platform';
import { type WebSocket, WebSocketServer } from 'ws';

export const priceStreamPath = '/ws/prices';

function refuse(socket: Duplex, status: string, message: string): void {
  const body = JSON.stringify({ error: { code: 'bad_request', message } });
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export class PriceStream {
  readonly #server = new WebSocketServer({ noServer: true });
  readonly #subscribers = new Map<WebSocket, ReadonlySet<TradingSymbol>>();
  readonly #telemetry: PlatformTelemetry;

  constructor(telemetry: PlatformTelemetry) {
    this.#telemetry = telemetry;
    // The gauge exists, at zero, before the first client connects.
    telemetry.metrics.websocketConnectionsActive.add(0, { endpoint: priceStreamPath });
  }

  /** Takes over WebSocket upgrades on `server` for the stream's path. */
  attach(server: ServerType): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (url.pathname !== priceStreamPath) {
        refuse(socket, '404 Not Found', `no WebSocket endpoint at ${url.pathname}`);
        return;
      }
      const wanted = url.searchParams.get('symbols')?.split(',').filter(Boolean) ?? [...symbols];
      const parsed = wanted.map((symbol) => TradingSymbol.safeParse(symbol));
      const unknown = wanted.filter((_, i) => !parsed[i]?.success);
      if (unknown.length > 0) {
        refuse(
          socket,
          '400 Bad Request',
          `query.symbols: unknown ${unknown.join(', ')}; expected some of ${symbols.join(', ')}`,
        );
        return;
      }
      this.#server.handleUpgrade(request, socket, head, (ws) =>
        this.#add(ws, new Set(wanted as TradingSymbol[])),
      );
    });
  }

  #add(ws: WebSocket, wanted: ReadonlySet<TradingSymbol>): void {
    const { metrics } = this.#telemetry;
    const endpoint = { endpoint: priceStreamPath };
    this.#subscribers.set(ws, wanted);
    metrics.websocketConnectionsActive.add(1, endpoint);
    ws.once('close', () => {
      this.#subscribers.delete(ws);
      metrics.websocketConnectionsActive.add(-1, endpoint);
    });
    ws.on('error', (error) => this.#telemetry.logger.debug('websocket error', { error }));
  }

  broadcast(tick: Tick): void {
    const message = JSON.stringify(tick);
    for (const [ws, wanted] of this.#subscribers) {
      // A client that cannot keep up is skipped rather than buffered without bound.
      if (wanted.has(tick.symbol) && ws.bufferedAmount < 1_000_000) ws.send(message);
    }
  }

  close(): void {
    for (const ws of this.#subscribers.keys()) ws.close(1001, 'server stopping');
    this.#server.close();
  }
}
