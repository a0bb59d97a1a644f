/**
 * What a day of api traffic looks like, as weighted scenarios: reads, pipeline writes, manual
 * executions, the bot lifecycle, probes, and invalid requests of every kind a client gets
 * wrong. The load generator keeps the pipelines and bots it knows about within a bound, so
 * hours of load leave a stable amount of state.
 */
import { type PipelineInput, strategies, symbols } from '@tradeobs/platform';
import type { ApiClient, Call } from './client.ts';

export interface Scenario {
  name: string;
  weight: number;
  run(client: ApiClient, state: LoadState): Promise<void>;
}

export class LoadState {
  readonly pipelines: string[] = [];
  readonly bots: string[] = [];
  readonly executions: string[] = [];
  readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items[Math.floor(this.random() * items.length)];
  }

  remember(list: string[], id: string, max: number): void {
    list.push(id);
    if (list.length > max) list.shift();
  }
}

export const maxPipelines = 12;
const maxBots = 10;

function idOf(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && 'id' in body && typeof body.id === 'string'
    ? body.id
    : undefined;
}

export function randomPipeline(state: LoadState): PipelineInput {
  const strategy = state.pick(strategies) ?? 'momentum';
  const picked = symbols.filter(() => state.random() < 0.5);
  return {
    name: `${strategy} ${Math.floor(state.random() * 1e6)}`,
    strategy,
    symbols: picked.length > 0 ? picked : ['BTCUSD'],
    signalFilter: { types: ['buy', 'sell'], minConfidence: Math.round(state.random() * 50) / 100 },
    riskLimits: {
      maxOrderUsd: 5_000 + Math.floor(state.random() * 10_000),
      maxPositionUsd: 40_000,
      maxDrawdown: 0.2,
    },
    enabled: true,
  };
}

export async function createPipeline(client: ApiClient, state: LoadState, scenario: string): Promise<void> {
  const created = await client.send(scenario, {
    method: 'POST',
    route: '/pipelines',
    path: '/pipelines',
    body: randomPipeline(state),
    expect: [201],
  });
  const id = idOf(created?.body);
  if (!id) return;
  state.pipelines.push(id);
  // Keep the set bounded: the oldest pipeline goes.
  if (state.pipelines.length > maxPipelines) {
    const oldest = state.pipelines.shift() as string;
    await client.send(scenario, {
      method: 'DELETE',
      route: '/pipelines/:id',
      path: `/pipelines/${oldest}`,
      expect: [204, 404],
    });
  }
}

const reads: Scenario = {
  name: 'read',
  weight: 35,
  async run(client, state) {
    const pipeline = state.pick(state.pipelines);
    const execution = state.pick(state.executions);
    const bot = state.pick(state.bots);
    const choices: Call[] = [
      { method: 'GET', route: '/pipelines', path: '/pipelines?limit=50', expect: [200] },
      { method: 'GET', route: '/executions', path: '/executions?limit=20', expect: [200] },
      { method: 'GET', route: '/portfolio', path: '/portfolio', expect: [200] },
      { method: 'GET', route: '/bots', path: '/bots', expect: [200] },
    ];
    if (pipeline) {
      choices.push({
        method: 'GET',
        route: '/pipelines/:id',
        path: `/pipelines/${pipeline}`,
        expect: [200, 404],
      });
      choices.push({
        method: 'GET',
        route: '/executions',
        path: `/executions?pipelineId=${pipeline}`,
        expect: [200],
      });
    }
    if (execution) {
      choices.push({
        method: 'GET',
        route: '/executions/:id',
        path: `/executions/${execution}`,
        expect: [200, 404],
      });
    }
    if (bot) choices.push({ method: 'GET', route: '/bots/:id', path: `/bots/${bot}`, expect: [200, 404] });
    const call = state.pick(choices);
    if (call) await client.send('read', call);
  },
};

const writes: Scenario = {
  name: 'write',
  weight: 12,
  async run(client, state) {
    const pipeline = state.pick(state.pipelines);
    // Pipelines are configuration: mostly edited, rarely replaced. Creating one (and so
    // retiring the oldest) now and then keeps create and delete exercised without turning
    // pipeline ids, which label some metrics, into a stream of new series.
    if (!pipeline || state.pipelines.length < maxPipelines || state.random() < 0.02) {
      await createPipeline(client, state, 'write');
      return;
    }
    if (state.random() < 0.5) {
      await client.send('write', {
        method: 'PATCH',
        route: '/pipelines/:id',
        path: `/pipelines/${pipeline}`,
        body: { signalFilter: { minConfidence: Math.round(state.random() * 60) / 100 } },
        expect: [200, 404],
      });
    } else {
      await client.send('write', {
        method: 'PUT',
        route: '/pipelines/:id',
        path: `/pipelines/${pipeline}`,
        body: randomPipeline(state),
        expect: [200, 404],
      });
    }
  },
};

const triggers: Scenario = {
  name: 'trigger',
  weight: 15,
  async run(client, state) {
    const pipeline = state.pick(state.pipelines);
    if (!pipeline) return;
    const answer = await client.send('trigger', {
      method: 'POST',
      route: '/pipelines/:id/executions',
      path: `/pipelines/${pipeline}/executions`,
      // 409: the pipeline is already running, or was disabled by a write meanwhile.
      expect: [202, 404, 409],
    });
    const id = idOf(answer?.body);
    if (id) state.remember(state.executions, id, 100);
  },
};

const botLifecycle: Scenario = {
  name: 'bot_lifecycle',
  weight: 10,
  async run(client, state) {
    const bot = state.pick(state.bots);
    if (!bot || (state.bots.length < maxBots && state.random() < 0.3)) {
      const pipeline = state.pick(state.pipelines);
      if (!pipeline) return;
      const got = await client.send('bot_lifecycle', {
        method: 'GET',
        route: '/pipelines/:id',
        path: `/pipelines/${pipeline}`,
        expect: [200, 404],
      });
      const symbol = (got?.body as { symbols?: string[] } | undefined)?.symbols?.[0];
      if (!symbol) return;
      const created = await client.send('bot_lifecycle', {
        method: 'POST',
        route: '/bots',
        path: '/bots',
        body: { name: `bot ${Math.floor(state.random() * 1e6)}`, pipelineId: pipeline, symbol },
        // 422: the pipeline was deleted, or replaced without the symbol, between the two calls.
        expect: [201, 422],
      });
      const id = idOf(created?.body);
      if (id) {
        state.remember(state.bots, id, maxBots);
        await client.send('bot_lifecycle', {
          method: 'POST',
          route: '/bots/:id/start',
          path: `/bots/${id}/start`,
          expect: [200],
        });
      }
      return;
    }
    // Mostly pausing and resuming; a stop (the bot is then deleted and replaced) is rare.
    const action = state.random() < 0.05 ? 'stop' : (state.pick(['start', 'pause'] as const) ?? 'start');
    const answer = await client.send('bot_lifecycle', {
      method: 'POST',
      route: `/bots/:id/${action}`,
      path: `/bots/${bot}/${action}`,
      expect: [200, 409],
    });
    if (action === 'stop' && answer?.status === 200) {
      // A stopped bot is done: remove it, so that hours of load leave no pile of them.
      state.bots.splice(state.bots.indexOf(bot), 1);
      await client.send('bot_lifecycle', {
        method: 'DELETE',
        route: '/bots/:id',
        path: `/bots/${bot}`,
        expect: [204, 404],
      });
    }
  },
};

const probes: Scenario = {
  name: 'probe',
  weight: 8,
  async run(client, state) {
    const call = state.pick([
      { route: '/health', path: '/health' },
      { route: '/ready', path: '/ready' },
      { route: '/openapi.json', path: '/openapi.json' },
    ]);
    if (call) await client.send('probe', { method: 'GET', ...call, expect: [200] });
  },
};

/** Mistakes real clients make; each must get its 4xx, never a 5xx. */
const invalid: Scenario = {
  name: 'invalid',
  weight: 15,
  async run(client, state) {
    const unknownId = `missing-${Math.floor(state.random() * 1e9)}`;
    const calls: Call[] = [
      { method: 'POST', route: '/pipelines', path: '/pipelines', body: '{"name": "broken', expect: [400] },
      {
        method: 'POST',
        route: '/pipelines',
        path: '/pipelines',
        body: { name: 42, strategy: 'moon', symbols: 'BTC' },
        expect: [400],
      },
      {
        method: 'POST',
        route: '/pipelines',
        path: '/pipelines',
        body: { ...randomPipeline(state), surprise: true },
        expect: [400],
      },
      {
        method: 'POST',
        route: '/pipelines',
        path: '/pipelines',
        body: 'name=x',
        contentType: 'application/x-www-form-urlencoded',
        expect: [415],
      },
      {
        method: 'POST',
        route: '/pipelines',
        path: '/pipelines',
        body: { name: 'x'.repeat(70_000) },
        expect: [413],
      },
      { method: 'GET', route: '/pipelines/:id', path: `/pipelines/${unknownId}`, expect: [404] },
      { method: 'GET', route: '/executions/:id', path: `/executions/${unknownId}`, expect: [404] },
      { method: 'POST', route: '/bots/:id/start', path: `/bots/${unknownId}/start`, expect: [404] },
      { method: 'GET', route: '/executions', path: '/executions?limit=100000', expect: [400] },
      { method: 'GET', route: '/pipelines/:id', path: '/pipelines/..%2F..%2Fetc', expect: [400, 404] },
      { method: 'GET', route: 'unmatched', path: `/no/such/route/${unknownId}`, expect: [404] },
      // A method the path does not have, even with a body it would refuse.
      { method: 'DELETE', route: '/portfolio', path: '/portfolio', expect: [405] },
      {
        method: 'POST',
        route: '/bots/:id',
        path: `/bots/${unknownId}`,
        body: 'x',
        contentType: 'text/plain',
        expect: [405],
      },
      // A required body left out.
      { method: 'PATCH', route: '/pipelines/:id', path: `/pipelines/${unknownId}`, expect: [400] },
    ];
    const call = state.pick(calls);
    if (call) await client.send('invalid', call);
  },
};

export const scenarios: readonly Scenario[] = [reads, writes, triggers, botLifecycle, probes, invalid];
