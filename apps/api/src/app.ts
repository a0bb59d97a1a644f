/**
 * The api's routes over the stores it is given: main.ts gives them the NATS buckets, the tests
 * stand-ins. The service shell wraps them in the method, body and error rules.
 */
import type {
  Bot,
  BotStore,
  Execution,
  ExecutionQueue,
  Mirror,
  Pipeline,
  PipelineStore,
  PortfolioStore,
  PriceHistory,
} from '@tradeobs/platform';
import type { Hono } from 'hono';
import { openApiDocument } from './openapi.ts';
import { botRoutes } from './routes/bots.ts';
import { executionRoutes } from './routes/executions.ts';
import { pipelineRoutes } from './routes/pipelines.ts';
import { portfolioRoutes } from './routes/portfolio.ts';

export interface ApiState {
  pipelines: PipelineStore;
  /** The api's copy of the pipelines bucket, for listing without a read per pipeline. */
  pipelineMirror: Mirror<Pipeline>;
  queue: ExecutionQueue;
  /** The api's copy of the executions bucket. */
  executions: Mirror<Execution>;
  bots: BotStore;
  /** The api's copy of the bots bucket. */
  botMirror: Mirror<Bot>;
  portfolio: PortfolioStore;
  market: PriceHistory;
}

export function apiRoutes(state: ApiState): (app: Hono) => void {
  const document = openApiDocument();
  return (app) => {
    app.get('/openapi.json', (c) => c.json(document));
    app.route('/pipelines', pipelineRoutes(state.pipelines, state.pipelineMirror, state.queue));
    app.route('/executions', executionRoutes(state.queue, state.executions));
    app.route('/bots', botRoutes(state.bots, state.botMirror, state.pipelines));
    app.route('/portfolio', portfolioRoutes(state.portfolio, state.market));
  };
}
