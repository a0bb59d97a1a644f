/** The platform's buckets as typed stores: which schema each bucket holds, in one place. */
import { Bot, Pipeline, Portfolio } from './domain.ts';
import type { ServiceContext } from './service.ts';
import { openStore, type Store } from './store.ts';

export type PipelineStore = Store<typeof Pipeline>;
export type BotStore = Store<typeof Bot>;
export type PortfolioStore = Store<typeof Portfolio>;

/** The one portfolio the platform trades. */
export const portfolioKey = 'main';

export const openPipelines = (context: ServiceContext): Promise<PipelineStore> =>
  openStore(context, 'pipelines', Pipeline);
export const openBots = (context: ServiceContext): Promise<BotStore> => openStore(context, 'bots', Bot);
export const openPortfolio = (context: ServiceContext): Promise<PortfolioStore> =>
  openStore(context, 'portfolio', Portfolio);
