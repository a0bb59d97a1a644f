export * from './domain.ts';
export {
  type Outcome,
  deadLetter,
  decode,
  handleMessage,
  type MessageHandlerOptions,
  primeConsumerSeries,
  reportConsumerBacklog,
} from './consume.ts';
export { connectNats } from './connection.ts';
export { ApiError, errorBody, errorResponse, type Issue, jsonBodies, notFound, validate } from './http.ts';
export {
  runService,
  serviceApp,
  type RunningService,
  type ServiceContext,
  type ServiceOptions,
  type ServiceParts,
  startService,
} from './service.ts';
export { ServiceConfigError, SettingsReader } from './settings.ts';
export {
  CorruptEntryError,
  isRevisionConflict,
  openStore,
  Store,
  type Versioned,
  type WatchEvent,
} from './store.ts';
export {
  buckets,
  consumers,
  declareStreams,
  maxDeliveries,
  streams,
  subjects,
  subjectTemplates,
} from './topology.ts';
export { type ExecutionQueue, openExecutionQueue, RunningLock } from './executions.ts';
export { type Decision, evaluate, momentum, smaCrossover } from './strategies.ts';
export { followMarket, type FollowOptions, marketSource, type PriceHistory } from './market.ts';
export { type Expiry, type Mirror, mirror } from './mirror.ts';
export {
  type BotStore,
  openBots,
  openPipelines,
  openPortfolio,
  type PipelineStore,
  type PortfolioStore,
  portfolioKey,
} from './stores.ts';
export {
  applyFill,
  emptyPortfolio,
  type Prices,
  revalue,
  totalValue,
  utcDay,
  type Valuation,
} from './portfolio.ts';
export { type FailureKind, failureKind, failureKinds } from './errors.ts';
export { catalog, type PlatformCatalog } from './metrics.ts';
export { initPlatformTelemetry, type PlatformTelemetry } from './telemetry.ts';
