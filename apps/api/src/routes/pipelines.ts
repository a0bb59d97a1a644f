/** Pipelines: create, list, get, replace, update, delete, and trigger an execution by hand. */
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  type ExecutionQueue,
  IdParam,
  type Mirror,
  notFound,
  Pipeline,
  PipelineInput,
  type PipelineStore,
  PipelineUpdate,
  strategies,
  validate,
} from '@tradeobs/platform';
import { Hono } from 'hono';
import { z } from 'zod';

export const PipelineListQuery = z
  .object({
    strategy: z.enum(strategies).optional(),
    enabled: z.enum(['true', 'false']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

/** A page of pipelines, oldest first; `total` counts them all. */
export const PipelineList = z
  .object({ items: z.array(Pipeline), total: z.number().int().nonnegative() })
  .strict();

/** The fields of a partial update that were given. */
function defined<T extends object>(update: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(update).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** `all` is the api's copy of the pipelines bucket, for listing without a read per pipeline. */
export function pipelineRoutes(pipelines: PipelineStore, all: Mirror<Pipeline>, queue: ExecutionQueue): Hono {
  const app = new Hono();
  const existing = async (id: string) => {
    const stored = await pipelines.get(id);
    if (!stored) throw notFound('pipeline', id);
    return stored;
  };

  app.post('/', validate('json', PipelineInput), async (c) => {
    const now = new Date().toISOString();
    const pipeline: Pipeline = { ...c.req.valid('json'), id: randomUUID(), createdAt: now, updatedAt: now };
    await pipelines.create(pipeline.id, pipeline);
    return c.json(pipeline, 201);
  });

  app.get('/', validate('query', PipelineListQuery), (c) => {
    const query = c.req.valid('query');
    const everything = [...all.values()];
    const selected = everything
      .filter((p) => (query.strategy ? p.strategy === query.strategy : true))
      .filter((p) => (query.enabled ? String(p.enabled) === query.enabled : true))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .slice(0, query.limit);
    const list: z.infer<typeof PipelineList> = { items: selected, total: everything.length };
    return c.json(list);
  });

  app.get('/:id', validate('param', IdParam), async (c) =>
    c.json((await existing(c.req.valid('param').id)).value),
  );

  /** Changes the stored pipeline, again from a fresh read whenever another write got there first. */
  const replace = async (id: string, change: (current: Pipeline) => Pipeline) => {
    const updatedAt = new Date().toISOString();
    const next = await pipelines.modify(
      id,
      (current) => current && { ...change(current), id, createdAt: current.createdAt, updatedAt },
    );
    if (!next) throw notFound('pipeline', id);
    return next;
  };
  app.put('/:id', validate('param', IdParam), validate('json', PipelineInput), async (c) =>
    c.json(await replace(c.req.valid('param').id, (current) => ({ ...current, ...c.req.valid('json') }))),
  );
  app.patch('/:id', validate('param', IdParam), validate('json', PipelineUpdate), async (c) => {
    const update = c.req.valid('json');
    return c.json(
      await replace(c.req.valid('param').id, (current) => ({
        ...current,
        ...defined(update),
        signalFilter: { ...current.signalFilter, ...defined(update.signalFilter ?? {}) },
        riskLimits: { ...current.riskLimits, ...defined(update.riskLimits ?? {}) },
      })),
    );
  });

  app.delete('/:id', validate('param', IdParam), async (c) => {
    const { id } = c.req.valid('param');
    await existing(id);
    await pipelines.delete(id);
    return c.body(null, 204);
  });

  app.post('/:id/executions', validate('param', IdParam), async (c) => {
    const { value: pipeline } = await existing(c.req.valid('param').id);
    if (!pipeline.enabled)
      throw new ApiError(409, 'pipeline_disabled', `pipeline ${pipeline.id} is disabled`);
    const result = await queue.enqueue(pipeline, { mode: 'manual', executionId: randomUUID() });
    if (result.outcome !== 'enqueued') {
      throw new ApiError(409, 'pipeline_running', `pipeline ${pipeline.id} is already running an execution`);
    }
    return c.json(result.execution, 202);
  });

  return app;
}
