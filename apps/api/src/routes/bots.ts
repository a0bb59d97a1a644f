/** Bots: create, list, get, delete, and the lifecycle start → pause → start … → stop (final). */
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  Bot,
  BotInput,
  type BotStatus,
  type BotStore,
  IdParam,
  type Mirror,
  notFound,
  type PipelineStore,
  validate,
} from '@tradeobs/platform';
import { Hono } from 'hono';
import { z } from 'zod';

/** Every bot, oldest first. */
export const BotList = z.object({ items: z.array(Bot), total: z.number().int().nonnegative() }).strict();

type Action = 'start' | 'pause' | 'stop';

/** Which statuses each action may leave from, and where it leads. */
const transitions: Record<Action, { from: readonly BotStatus[]; to: BotStatus }> = {
  start: { from: ['created', 'paused'], to: 'running' },
  pause: { from: ['running'], to: 'paused' },
  stop: { from: ['created', 'running', 'paused'], to: 'stopped' },
};

/** `all` is the api's copy of the bots bucket, for listing without a read per bot. */
export function botRoutes(bots: BotStore, all: Mirror<Bot>, pipelines: PipelineStore): Hono {
  const app = new Hono();

  app.post('/', validate('json', BotInput), async (c) => {
    const input = c.req.valid('json');
    // A body that the schema accepts but the stored pipelines refuse is a 422, not a 400: a 400
    // means the request breaks the document's schema, which a client can check before sending.
    const pipeline = await pipelines.get(input.pipelineId);
    if (!pipeline) {
      throw new ApiError(422, 'validation_failed', 'invalid body', [
        { field: 'body.pipelineId', rule: 'exists', message: `pipeline ${input.pipelineId} does not exist` },
      ]);
    }
    if (!pipeline.value.symbols.includes(input.symbol)) {
      throw new ApiError(422, 'validation_failed', 'invalid body', [
        {
          field: 'body.symbol',
          rule: 'traded_by_pipeline',
          message: `pipeline ${input.pipelineId} does not trade ${input.symbol}`,
        },
      ]);
    }
    const now = new Date().toISOString();
    const bot: Bot = {
      ...input,
      id: randomUUID(),
      status: 'created',
      trades: 0,
      realizedPnlUsd: 0,
      createdAt: now,
      updatedAt: now,
    };
    await bots.create(bot.id, bot);
    return c.json(bot, 201);
  });

  app.get('/', (c) => {
    const items = [...all.values()];
    const list: z.infer<typeof BotList> = {
      items: items.sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
      total: items.length,
    };
    return c.json(list);
  });

  app.get('/:id', validate('param', IdParam), async (c) => {
    const { id } = c.req.valid('param');
    const stored = await bots.get(id);
    if (!stored) throw notFound('bot', id);
    return c.json(stored.value);
  });

  app.delete('/:id', validate('param', IdParam), async (c) => {
    const { id } = c.req.valid('param');
    if (!(await bots.get(id))) throw notFound('bot', id);
    await bots.delete(id);
    return c.body(null, 204);
  });

  for (const action of Object.keys(transitions) as Action[]) {
    app.post(`/:id/${action}`, validate('param', IdParam), async (c) => {
      const { id } = c.req.valid('param');
      const { from, to } = transitions[action];
      let refused: BotStatus | undefined;
      const updated = await bots.modify(id, (bot) => {
        if (!bot) return undefined;
        if (!from.includes(bot.status)) {
          refused = bot.status;
          return undefined;
        }
        return { ...bot, status: to, updatedAt: new Date().toISOString() };
      });
      if (!updated) throw notFound('bot', id);
      if (refused) throw new ApiError(409, 'invalid_transition', `cannot ${action} a bot that is ${refused}`);
      return c.json(updated);
    });
  }
  return app;
}
