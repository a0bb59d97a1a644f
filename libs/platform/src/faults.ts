/**
 * Fault injection for drills and alert tests: with FAULT_INJECTION=enabled, `PUT /admin/faults`
 * `{"errorRate": 0.5}` makes that share of requests fail with a 500 (probes and /admin excepted),
 * exactly as a bug would, so the error metrics, spans and HighErrorRate alert can be seen to
 * work. Disabled by default: the routes do not exist then.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { validate } from './http.ts';

export class InjectedFault extends Error {
  constructor() {
    super('fault injected by /admin/faults');
    this.name = 'InjectedFault';
  }
}

const FaultSettings = z.object({ errorRate: z.number().min(0).max(1) }).strict();
const exempt = new Set(['/health', '/ready', '/admin/faults']);

export class FaultInjector {
  #errorRate = 0;

  middleware(): MiddlewareHandler {
    return async (c, next) => {
      if (this.#errorRate > 0 && !exempt.has(c.req.path) && Math.random() < this.#errorRate) {
        throw new InjectedFault();
      }
      await next();
    };
  }

  routes(app: Hono): void {
    app.get('/admin/faults', (c) => c.json({ errorRate: this.#errorRate }));
    app.put('/admin/faults', validate('json', FaultSettings), (c) => {
      this.#errorRate = c.req.valid('json').errorRate;
      return c.json({ errorRate: this.#errorRate });
    });
  }
}
