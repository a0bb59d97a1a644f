/**
 * loadgen: drives the api with a realistic mix at LOADGEN_RATE scenarios per second, marked as
 * synthetic traffic. It first makes sure a few pipelines and running bots exist, so signals
 * find work at once. GET /health and GET /stats on LOADGEN_PORT show what it sends.
 */
import { serve } from '@hono/node-server';
import { SettingsReader } from '@tradeobs/platform';
import { initPlatformTelemetry } from '@tradeobs/platform';
import { Hono } from 'hono';
import { ApiClient } from './client.ts';
import { createPipeline, LoadState, maxPipelines, type Scenario, scenarios } from './scenarios.ts';

const settings = new SettingsReader(process.env);
const rate = settings.number('LOADGEN_RATE', 5, { min: 0.1, max: 10_000 });
const apiUrl = settings.string('API_URL', 'http://127.0.0.1:8000');
const port = settings.number('PORT', 8005, { min: 1, max: 65535, integer: true });
const maxInFlight = settings.number('LOADGEN_MAX_IN_FLIGHT', 32, { min: 1, max: 10_000, integer: true });
const host = settings.string('HOST', '127.0.0.1');
settings.check();

const telemetry = initPlatformTelemetry({ serviceName: 'loadgen', serviceVersion: '0.1.0' });
const { logger } = telemetry;
const client = new ApiClient(apiUrl, telemetry);
const state = new LoadState();
const totalWeight = scenarios.reduce((sum, scenario) => sum + scenario.weight, 0);
const counts = new Map<string, number>();
let inFlight = 0;
let skipped = 0;

function chooseScenario(): Scenario {
  let roll = state.random() * totalWeight;
  for (const scenario of scenarios) {
    roll -= scenario.weight;
    if (roll < 0) return scenario;
  }
  return scenarios[0] as Scenario;
}

async function waitForApi(): Promise<void> {
  for (;;) {
    const ready = await fetch(`${apiUrl}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    logger.info('waiting for the api', { apiUrl });
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Adopts existing pipelines and bots, and creates what is missing for a lively start. */
async function seed(): Promise<void> {
  const pipelines = await client.send('seed', {
    method: 'GET',
    route: '/pipelines',
    path: '/pipelines?limit=500',
    expect: [200],
  });
  for (const pipeline of (pipelines?.body as { items?: { id: string }[] } | undefined)?.items ?? [])
    state.pipelines.push(pipeline.id);
  while (state.pipelines.length > maxPipelines) state.pipelines.shift();
  while (state.pipelines.length < 6) await createPipeline(client, state, 'seed');
  const bots = await client.send('seed', { method: 'GET', route: '/bots', path: '/bots', expect: [200] });
  for (const bot of (bots?.body as { items?: { id: string; status: string }[] } | undefined)?.items ?? []) {
    if (bot.status !== 'stopped') state.remember(state.bots, bot.id, 10);
  }
}

const app = new Hono();
app.get('/health', (c) => c.json({ status: 'ok', service: 'loadgen' }));
app.get('/stats', (c) =>
  c.json({ rate, inFlight, skippedAtCapacity: skipped, scenarios: Object.fromEntries(counts) }),
);
const server = serve({ fetch: app.fetch, port, hostname: host });

await waitForApi();
await seed();
logger.info('generating load', { rate, apiUrl, pipelines: state.pipelines.length });
const timer = setInterval(() => {
  if (inFlight >= maxInFlight) {
    skipped += 1;
    return;
  }
  const scenario = chooseScenario();
  inFlight += 1;
  counts.set(scenario.name, (counts.get(scenario.name) ?? 0) + 1);
  scenario
    .run(client, state)
    .catch((error: unknown) => logger.warn('scenario failed', { scenario: scenario.name, error }))
    .finally(() => {
      inFlight -= 1;
    });
}, 1000 / rate);

const stop = (signal: NodeJS.Signals) => {
  logger.info('stopping', { signal });
  clearInterval(timer);
  server.close();
  void telemetry.shutdown().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
