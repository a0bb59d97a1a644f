/** Executions: list (newest first, filtered) and get. Triggering is under /pipelines/:id/executions. */
import {
  Execution,
  type ExecutionQueue,
  executionStatuses,
  IdParam,
  type Mirror,
  notFound,
  validate,
} from '@tradeobs/platform';
import { Hono } from 'hono';
import { z } from 'zod';

export const ExecutionListQuery = z
  .object({
    pipelineId: IdParam.shape.id.optional(),
    status: z.enum(executionStatuses).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

/** A page of executions, newest first; `total` counts all the api holds. */
export const ExecutionList = z
  .object({ items: z.array(Execution), total: z.number().int().nonnegative() })
  .strict();

/** `recent` is the api's copy of the executions bucket, so a listing costs no key-value reads. */
export function executionRoutes(queue: ExecutionQueue, recent: Mirror<Execution>): Hono {
  const app = new Hono();
  app.get('/', validate('query', ExecutionListQuery), (c) => {
    const query = c.req.valid('query');
    const all = [...recent.values()];
    const items = all
      .filter((e) => (query.pipelineId ? e.pipelineId === query.pipelineId : true))
      .filter((e) => (query.status ? e.status === query.status : true))
      .sort((a, b) => b.requestedAt.localeCompare(a.requestedAt))
      .slice(0, query.limit);
    const list: z.infer<typeof ExecutionList> = { items, total: all.length };
    return c.json(list);
  });
  app.get('/:id', validate('param', IdParam), async (c) => {
    const { id } = c.req.valid('param');
    const stored = await queue.executions.get(id);
    if (!stored) throw notFound('execution', id);
    return c.json(stored.value);
  });
  return app;
}
