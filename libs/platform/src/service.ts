/**
 * The shell every platform service runs in. It starts telemetry first (so runtime metrics
 * exist from the first second), answers /health at once, connects to NATS (waiting for it if
 * need be), declares the topology, lets the service set itself up, and only then says ready.
 * On SIGTERM/SIGINT it stops in order: stop taking work, drain NATS, close HTTP, flush telemetry.
 */
import { serve, type ServerType } from '@hono/node-server';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { initPlatformTelemetry, type PlatformTelemetry } from './telemetry.ts';
import { httpInstrumentation } from '@tradeobs/telemetry/hono';
import { NatsInstrumentation } from '@tradeobs/telemetry/nats';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { connectNats } from './connection.ts';
import { failureKind } from './errors.ts';
import { retryWhileUnanswered } from './retry.ts';
import { FaultInjector } from './faults.ts';
import { ApiError, answerMethods, errorBody, jsonBodies } from './http.ts';
import { ServiceConfigError, SettingsReader } from './settings.ts';
import { isRevisionConflict } from './store.ts';
import { declareStreams, subjectTemplates } from './topology.ts';

export interface ServiceContext {
  readonly name: string;
  readonly telemetry: PlatformTelemetry;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly messaging: NatsInstrumentation;
  /** Aborted when the service begins to stop: loops and watchers end on it. */
  readonly stopping: AbortSignal;
  /** Nodes that keep each stream and bucket this service creates (NATS_STREAM_REPLICAS). */
  readonly replicas: number;
  /** Whether the NATS connection is up right now (false while reconnecting). */
  natsConnected(): boolean;
}

export interface ServiceParts {
  /** Adds the service's routes. */
  routes?: (app: Hono) => void;
  /** Hooks into the HTTP server itself, e.g. for WebSocket upgrades. */
  attach?: (server: ServerType) => void;
  /** Dependencies beyond NATS that /ready reports, by name. */
  readiness?: () => Promise<Record<string, boolean>> | Record<string, boolean>;
  /** Stops taking work (consumers, timers); called before NATS is drained. */
  stop?: () => Promise<void>;
}

export interface ServiceOptions {
  name: string;
  version: string;
  /** Port when PORT is not set. */
  defaultPort: number;
  setup: (context: ServiceContext, settings: SettingsReader) => Promise<ServiceParts>;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface RunningService {
  readonly context: ServiceContext;
  readonly port: number;
  stop(): Promise<void>;
}

const maxBodyBytes = 64 * 1024;

/**
 * Seconds a client is asked to wait after a 503: the NATS connection retries every half second
 * and a restarted server is back within a few, so a second is the shortest sensible answer.
 */
const retryAfterSeconds = 1;

/**
 * A Hono app with the shared instrumentation, method and input rules, 404 and error shapes, around
 * the routes `addRoutes` adds. Only routes added there get their 405 and OPTIONS answers: the
 * method rules are made from them and come before the body rules.
 */
export function serviceApp(telemetry: PlatformTelemetry, addRoutes: (app: Hono) => void): Hono {
  const routes = new Hono();
  addRoutes(routes);
  const app = new Hono();
  app.use(httpInstrumentation(telemetry, { traceResponse: true }));
  answerMethods(app, routes.routes);
  app.use(jsonBodies(maxBodyBytes));
  app.route('/', routes);
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) => {
    if (error instanceof ApiError)
      return c.json(errorBody(error.code, error.message, error.issues), error.status);
    if (error instanceof HTTPException) {
      // Hono's own 400 is a body that is not JSON at all.
      const issues =
        error.status === 400 ? [{ field: 'body', rule: 'json', message: error.message }] : undefined;
      return c.json(
        errorBody(error.status === 400 ? 'validation_failed' : 'http_error', error.message, issues),
        error.status,
      );
    }
    // A compare-and-set lost on every retry: others keep changing the entry; an answer, not a failure.
    if (isRevisionConflict(error)) {
      return c.json(
        errorBody('conflict', 'the resource was changed by other requests meanwhile; retry'),
        409,
      );
    }
    telemetry.metrics.errors.add(1, { type: error.name, component: 'http' });
    const kind = failureKind(error);
    if (kind === 'timeout' || kind === 'no_responders' || kind === 'connection') {
      telemetry.logger.warn('NATS unreachable', { error, method: c.req.method, route: routePath(c) });
      c.header('Retry-After', String(retryAfterSeconds));
      return c.json(errorBody('unavailable', 'NATS cannot be reached; retry later'), 503);
    }
    telemetry.logger.error('request failed', { error, method: c.req.method, route: routePath(c) });
    return c.json(errorBody('internal_error', 'the request could not be completed'), 500);
  });
  return app;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const env = options.env ?? process.env;
  const settings = new SettingsReader(env);
  const port = settings.number('PORT', options.defaultPort, { min: 1, max: 65535, integer: true });
  const host = settings.string('HOST', '127.0.0.1');
  // Every node of a cluster, comma-separated: the client starts from any that answers and
  // learns the rest from the cluster itself.
  const natsServers = settings
    .string('NATS_URL', 'nats://127.0.0.1:4222')
    .split(',')
    .map((server) => server.trim())
    .filter(Boolean);
  // At most 5: JetStream's own limit on a stream's replicas.
  const replicas = settings.number('NATS_STREAM_REPLICAS', 1, { min: 1, max: 5, integer: true });
  const faults =
    settings.oneOf('FAULT_INJECTION', ['disabled', 'enabled'], 'disabled') === 'enabled'
      ? new FaultInjector()
      : undefined;
  settings.check();

  const telemetry = initPlatformTelemetry({
    serviceName: options.name,
    serviceVersion: options.version,
    env,
  });
  const { logger } = telemetry;
  const stopController = new AbortController();
  let natsConnected = false;
  let ready = false;

  const probes = (app: Hono, checks: () => Promise<Record<string, boolean>>) => {
    app.get('/health', (c) => c.json({ status: 'ok', service: options.name }));
    app.get('/ready', async (c) => {
      const dependencies = await checks();
      const ok = Object.values(dependencies).every(Boolean);
      return c.json({ status: ok ? 'ready' : 'not_ready', dependencies }, ok ? 200 : 503);
    });
  };
  // Until set-up is done, only /health and /ready answer; the rest is a 503.
  const starting = serviceApp(telemetry, (app) => {
    probes(app, () => Promise.resolve({ nats: natsConnected, setup: false }));
    app.all('*', (c) => {
      c.header('Retry-After', String(retryAfterSeconds));
      return c.json(errorBody('starting', `${options.name} is starting`), 503);
    });
  });
  let current = starting;

  const server: ServerType = serve({
    fetch: (request, bindings) => current.fetch(request, bindings),
    port,
    hostname: host,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  logger.info('listening', { url: `http://${host}:${port}` });

  const nc = await connectNats(natsServers, options.name, telemetry);
  natsConnected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnecting') natsConnected = false;
      if (status.type === 'reconnect') natsConnected = true;
    }
  })();
  const jsm = await startupStep('reaching JetStream', () =>
    retryWhileUnanswered('reaching JetStream', () => jetstreamManager(nc), logger),
  );
  await startupStep('declaring the streams and consumers', () =>
    retryWhileUnanswered('declaring the streams and consumers', () => declareStreams(jsm, replicas), logger),
  );
  const context: ServiceContext = {
    name: options.name,
    telemetry,
    nc,
    js: jetstream(nc),
    jsm,
    messaging: new NatsInstrumentation(telemetry, { subjectTemplates, connection: nc }),
    stopping: stopController.signal,
    replicas,
    natsConnected: () => natsConnected && !nc.isClosed(),
  };
  const parts = await startupStep('setting up', () => options.setup(context, settings));
  settings.check();

  if (faults) logger.warn('fault injection is enabled: PUT /admin/faults makes requests fail on purpose');
  const app = serviceApp(telemetry, (routes) => {
    probes(routes, async () => ({ nats: context.natsConnected(), ...(await parts.readiness?.()) }));
    if (faults) {
      routes.use(faults.middleware());
      faults.routes(routes);
    }
    parts.routes?.(routes);
  });
  parts.attach?.(server);
  current = app;
  ready = true;
  logger.info('ready', { service: options.name, port });

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      logger.info('stopping', { ready });
      stopController.abort();
      await parts.stop?.();
      await nc.drain().catch((error: unknown) => logger.warn('NATS drain failed', { error }));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await telemetry.shutdown();
    })();
    return stopped;
  };
  return { context, port, stop };
}

/** Runs one step of start-up; its error says which step it was ("timeout" alone says nothing). */
async function startupStep<T>(step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // A configuration error already names the variable and the allowed values.
    if (error instanceof ServiceConfigError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${step}: ${message}`, { cause: error });
  }
}

/**
 * Entry point of a service process: starts it, stops it on SIGTERM/SIGINT, and exits non-zero
 * with a readable message when start-up fails.
 */
export function runService(options: ServiceOptions): void {
  startService(options).then(
    (service) => {
      const onSignal = (signal: NodeJS.Signals) => {
        service.context.telemetry.logger.info('signal received', { signal });
        void service.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    },
    (error: unknown) => {
      process.stderr.write(
        `${options.name} failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
