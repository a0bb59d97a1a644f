/**
 * The platform's metric catalog: every business metric of the trading platform, declared once
 * with the library's catalog helpers. The Prometheus name each one gets is in the comment before
 * it; apps/README.md says where each is recorded. HTTP, messaging and runtime metrics follow the
 * OpenTelemetry semantic conventions instead and are recorded by @tradeobs/telemetry itself.
 *
 * Attributes are chosen for bounded cardinality: symbols, strategies, statuses and reasons,
 * pipeline and bot ids (a few hundred at most, and limited per metric), never user, order or
 * trade ids (seed 001's "avoid" list). Seed 003's goal metrics therefore drop `user_id`. The
 * metrics by pipeline or bot id are forgettable: the services that record them drop a series
 * when its pipeline or bot is deleted, so churn does not grow the series count; the pipeline
 * duration histogram has no pipeline id unless WORKER_DURATION_BY_PIPELINE asks for it (14
 * buckets a pipeline).
 */
import {
  buckets as libraryBuckets,
  counter,
  forgettableCounter,
  forgettableGauge,
  gauge,
  histogram,
  upDownCounter,
} from '@tradeobs/telemetry/catalog';

/** Histogram bucket sets by kind of operation, in seconds unless named otherwise. */
const buckets = {
  http: libraryBuckets.http,
  /** 1 ms to 10 s. */
  database: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10],
  /** 100 ms to 60 s. */
  dataCollection: [0.1, 0.5, 1, 5, 10, 30, 60],
  /** 10 ms to 5 s. */
  mlPrediction: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5],
  /** 10 s to 30 min. */
  mlTraining: [10, 30, 60, 300, 600, 1200, 1800],
  /** 1 ms to 10 s, finer at the fast end: in-process work such as signal generation. */
  fast: libraryBuckets.fast,
  /** Market data lag: 10 ms to 60 s. */
  lag: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  /** Counts of items per batch. */
  batchSize: [1, 2, 5, 10, 20, 50, 100, 200, 500],
  /** Fractions from 0 to 1 (confidence, ratios). */
  fraction: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  /** Slippage in basis points. */
  basisPoints: [0.5, 1, 2, 5, 10, 20, 50, 100, 200],
} as const;

/** Seed 000: pipelines, their executions, and the trigger dispatcher between signals and executions. */
export const pipelineMetrics = {
  // pipeline_executions_total
  pipelineExecutions: forgettableCounter({
    name: 'pipeline.executions',
    unit: '{execution}',
    description: 'Pipeline executions by outcome, pipeline and trigger mode',
    attributes: ['status', 'pipeline_id', 'trigger_mode'],
    cardinalityLimit: 2000,
  }),
  // pipeline_execution_duration_seconds
  pipelineExecutionDuration: histogram(
    {
      name: 'pipeline.execution.duration',
      unit: 's',
      description: 'Time to run a pipeline execution end to end',
      attributes: ['status', 'pipeline_id'],
      cardinalityLimit: 2000,
    },
    buckets.http,
  ),
  // signals_consumed_total
  signalsConsumed: counter({
    name: 'signals.consumed',
    unit: '{signal}',
    description: 'Signals taken from the stream',
  }),
  // pipelines_matched_total
  pipelinesMatched: counter({
    name: 'pipelines.matched',
    unit: '{pipeline}',
    description: 'Pipelines whose filter matched a signal',
    attributes: ['signal_type'],
  }),
  // pipelines_enqueued_total
  pipelinesEnqueued: counter({
    name: 'pipelines.enqueued',
    unit: '{pipeline}',
    description: 'Execution requests put on the work queue',
    attributes: ['trigger_mode'],
  }),
  // pipelines_skipped_running_total
  pipelinesSkippedRunning: counter({
    name: 'pipelines.skipped.running',
    unit: '{pipeline}',
    description: 'Matches not enqueued because the pipeline was already running',
  }),
  // batch_size
  batchSize: histogram(
    { name: 'batch.size', unit: '{signal}', description: 'Signals per dispatcher batch' },
    buckets.batchSize,
  ),
  // batch_processing_duration_seconds
  batchProcessingDuration: histogram(
    { name: 'batch.processing.duration', unit: 's', description: 'Time to match and enqueue one batch' },
    buckets.fast,
  ),
  // pipeline_cache_size
  pipelineCacheSize: gauge({
    name: 'pipeline.cache.size',
    unit: '{pipeline}',
    description: 'Pipelines in the dispatcher cache',
  }),
  // messages_dead_lettered_total
  messagesDeadLettered: counter({
    name: 'messages.dead_lettered',
    unit: '{message}',
    description: 'Malformed or unprocessable messages moved to the dead-letter subject',
    attributes: ['destination', 'reason'],
  }),
  // messages_redelivered_total
  messagesRedelivered: counter({
    name: 'messages.redelivered',
    unit: '{message}',
    description: 'JetStream messages received again after a missed or negative acknowledgement',
    attributes: ['destination'],
  }),
  // jetstream_consumer_pending
  jetstreamConsumerPending: gauge({
    name: 'jetstream.consumer.pending',
    unit: '{message}',
    description: 'Messages in the stream not yet delivered to the consumer',
    attributes: ['stream', 'consumer'],
  }),
  // jetstream_consumer_ack_pending
  jetstreamConsumerAckPending: gauge({
    name: 'jetstream.consumer.ack_pending',
    unit: '{message}',
    description: 'Messages delivered to the consumer and not yet acknowledged',
    attributes: ['stream', 'consumer'],
  }),
} as const;

/** Seed 000: the signal generator and its publishing (Kafka in the seed, NATS here). */
export const signalMetrics = {
  // signals_generated_total
  signalsGenerated: counter({
    name: 'signals.generated',
    unit: '{signal}',
    description: 'Signals generated by type and source strategy',
    attributes: ['signal_type', 'source'],
  }),
  // signal_generation_duration_seconds
  signalGenerationDuration: histogram(
    {
      name: 'signal.generation.duration',
      unit: 's',
      description: 'Time for a generator to evaluate its market data',
      attributes: ['generator'],
    },
    buckets.fast,
  ),
  // signal_confidence (seed 004)
  signalConfidence: histogram(
    {
      name: 'signal.confidence',
      unit: '{confidence}',
      description: 'Confidence of generated signals, 0 to 1',
      attributes: ['signal_type'],
    },
    buckets.fraction,
  ),
  // nats_publish_duration_seconds (seed 000's kafka_publish_duration_seconds)
  natsPublishDuration: histogram(
    {
      name: 'nats.publish.duration',
      unit: 's',
      description: 'Time to publish a signal and have it acknowledged by JetStream',
      attributes: ['signal_type'],
    },
    buckets.fast,
  ),
  // nats_publish_success_total
  natsPublishSuccess: counter({
    name: 'nats.publish.success',
    unit: '{message}',
    description: 'Signals published and acknowledged',
    attributes: ['signal_type'],
  }),
  // nats_publish_failure_total
  natsPublishFailure: counter({
    name: 'nats.publish.failure',
    unit: '{message}',
    description: 'Signals whose publish failed',
    attributes: ['signal_type', 'error_type'],
  }),
} as const;

/** Seed 001 (and 003, 004): market data. */
export const marketDataMetrics = {
  // market_data_updates_total
  marketDataUpdates: counter({
    name: 'market.data.updates',
    unit: '{update}',
    description: 'Market data updates by symbol and source',
    attributes: ['symbol', 'source'],
  }),
  // market_data_lag_seconds
  marketDataLag: histogram(
    {
      name: 'market.data.lag',
      unit: 's',
      description: 'Time between a tick and its processing',
      attributes: ['symbol', 'source'],
    },
    buckets.lag,
  ),
  // market_data_last_update_timestamp_seconds: freshness is time() minus this
  marketDataLastUpdate: gauge({
    name: 'market.data.last_update.timestamp',
    unit: 's',
    description: 'Unix time of the last update per symbol',
    attributes: ['symbol', 'source'],
  }),
  // websocket_connections_active
  websocketConnectionsActive: upDownCounter({
    name: 'websocket.connections.active',
    unit: '{connection}',
    description: 'Open WebSocket connections by endpoint',
    attributes: ['endpoint'],
  }),
} as const;

/** Seed 001 and 004: bots, trades, orders and the portfolio. */
export const tradingMetrics = {
  // trading_bots_active_total (a gauge despite its name, as in seed 001)
  tradingBotsActive: gauge({
    name: 'trading.bots.active.total',
    unit: '{bot}',
    description: 'Bots by status (running, paused, stopped)',
    attributes: ['status'],
  }),
  // trading_bot_trades_total
  tradingBotTrades: forgettableCounter({
    name: 'trading.bot.trades',
    unit: '{trade}',
    description: 'Trades by bot, symbol, side and status',
    attributes: ['bot_id', 'symbol', 'side', 'status'],
    cardinalityLimit: 2000,
  }),
  // trading_bot_pnl_usd
  tradingBotPnl: forgettableGauge({
    name: 'trading.bot.pnl.usd',
    unit: '{USD}',
    description: 'Current profit and loss per bot',
    attributes: ['bot_id', 'symbol'],
  }),
  // orders_placed_total
  ordersPlaced: counter({
    name: 'orders.placed',
    unit: '{order}',
    description: 'Orders sent to the (simulated) venue',
    attributes: ['symbol', 'side', 'order_type'],
  }),
  // orders_filled_total
  ordersFilled: counter({
    name: 'orders.filled',
    unit: '{order}',
    description: 'Orders filled',
    attributes: ['symbol', 'side'],
  }),
  // trades_executed_total (seed 004)
  tradesExecuted: counter({
    name: 'trades.executed',
    unit: '{trade}',
    description: 'Trades executed by strategy, symbol and side',
    attributes: ['strategy', 'symbol', 'side'],
  }),
  // trades_rejected_total (seed 004)
  tradesRejected: counter({
    name: 'trades.rejected',
    unit: '{trade}',
    description: 'Trades rejected, by reason',
    attributes: ['reason', 'symbol'],
  }),
  // trade_execution_duration_seconds (seed 004: signal to execution)
  tradeExecutionDuration: histogram(
    {
      name: 'trade.execution.duration',
      unit: 's',
      description: 'Time from a signal to its execution',
      attributes: ['strategy'],
    },
    buckets.http,
  ),
  // order_fill_duration_seconds (seed 004)
  orderFillDuration: histogram(
    {
      name: 'order.fill.duration',
      unit: 's',
      description: 'Time from order placement to fill',
      attributes: ['symbol'],
    },
    buckets.fast,
  ),
  // slippage_bps (seed 004's slippage_amount, in basis points so symbols compare)
  slippage: histogram(
    {
      name: 'slippage.bps',
      unit: '{bp}',
      description: 'Fill price against expected price, in basis points',
      attributes: ['symbol', 'side'],
    },
    buckets.basisPoints,
  ),
  // trading_decision_duration_seconds (seed 004)
  tradingDecisionDuration: histogram(
    {
      name: 'trading.decision.duration',
      unit: 's',
      description: 'Time from a signal to the trading decision',
      attributes: ['strategy'],
    },
    buckets.fast,
  ),
  // strategy_evaluation_duration_seconds (seed 004)
  strategyEvaluationDuration: histogram(
    {
      name: 'strategy.evaluation.duration',
      unit: 's',
      description: 'Time to evaluate a strategy',
      attributes: ['strategy'],
    },
    buckets.fast,
  ),
  // strategy_win_rate (seed 004)
  strategyWinRate: gauge({
    name: 'strategy.win_rate',
    unit: '{fraction}',
    description: 'Share of closed trades that made money, per strategy',
    attributes: ['strategy'],
  }),
  // strategy_profit_loss_usd (seed 004)
  strategyProfitLoss: gauge({
    name: 'strategy.profit_loss.usd',
    unit: '{USD}',
    description: 'Realised and unrealised P&L per strategy',
    attributes: ['strategy'],
  }),
  // portfolio_total_value_usd
  portfolioTotalValue: gauge({
    name: 'portfolio.total.value.usd',
    unit: '{USD}',
    description: 'Cash plus positions at market',
  }),
  // portfolio_cash_balance_usd
  portfolioCashBalance: gauge({
    name: 'portfolio.cash.balance.usd',
    unit: '{USD}',
    description: 'Cash available',
  }),
  // portfolio_positions_count
  portfolioPositions: gauge({
    name: 'portfolio.positions.count',
    unit: '{position}',
    description: 'Open positions by symbol',
    attributes: ['symbol'],
  }),
  // portfolio_drawdown_ratio: fall from the peak value, 0 to 1
  portfolioDrawdown: gauge({
    name: 'portfolio.drawdown',
    unit: '1',
    description: 'Fall of the portfolio value from its peak',
  }),
  // portfolio_daily_pnl_usd (seed 004's daily_profit_loss)
  portfolioDailyPnl: gauge({
    name: 'portfolio.daily_pnl.usd',
    unit: '{USD}',
    description: 'P&L since the start of the UTC day',
  }),
} as const;

/** Seed 003: risk. */
export const riskMetrics = {
  // risk_limit_breaches_total
  riskLimitBreaches: counter({
    name: 'risk.limit.breaches',
    unit: '{breach}',
    description: 'Orders or positions that hit a risk limit, by limit',
    attributes: ['limit_type', 'symbol'],
  }),
  // risk_exposure_usd
  riskExposure: gauge({
    name: 'risk.exposure.usd',
    unit: '{USD}',
    description: 'Gross exposure by symbol',
    attributes: ['symbol'],
  }),
} as const;

/** Seed 003: data collection from market data sources. */
export const dataCollectionMetrics = {
  // data_collector_healthy: 1 healthy, 0 not (DataCollectorDown alert)
  dataCollectorHealthy: gauge({
    name: 'data.collector.healthy',
    unit: '{status}',
    description: 'Whether a collector works: 1 yes, 0 no',
    attributes: ['collector', 'source'],
  }),
  // data_points_collected_total
  dataPointsCollected: counter({
    name: 'data.points.collected',
    unit: '{point}',
    description: 'Data points collected',
    attributes: ['collector', 'source', 'data_type'],
  }),
  // data_collection_errors_total
  dataCollectionErrors: counter({
    name: 'data.collection.errors',
    unit: '{error}',
    description: 'Failed collections by error type',
    attributes: ['collector', 'source', 'error_type'],
  }),
  // data_collection_duration_seconds
  dataCollectionDuration: histogram(
    {
      name: 'data.collection.duration',
      unit: 's',
      description: 'Time of one collection round',
      attributes: ['collector', 'source'],
    },
    buckets.dataCollection,
  ),
} as const;

/** Seed 003: ML models. */
export const modelMetrics = {
  // ml_predictions_total
  mlPredictions: counter({
    name: 'ml.predictions',
    unit: '{prediction}',
    description: 'Model predictions',
    attributes: ['model_name', 'model_version'],
  }),
  // ml_prediction_duration_seconds
  mlPredictionDuration: histogram(
    {
      name: 'ml.prediction.duration',
      unit: 's',
      description: 'Time of one prediction',
      attributes: ['model_name'],
    },
    buckets.mlPrediction,
  ),
  // ml_model_accuracy
  mlModelAccuracy: gauge({
    name: 'ml.model.accuracy',
    unit: '{fraction}',
    description: 'Accuracy on recent outcomes, 0 to 1',
    attributes: ['model_name', 'model_version'],
  }),
  // ml_model_drift_score (ModelDrift alert above 0.15)
  mlModelDrift: gauge({
    name: 'ml.model.drift.score',
    unit: '{score}',
    description: 'Distribution drift of model inputs, 0 (none) to 1',
    attributes: ['model_name', 'model_version'],
  }),
  // ml_training_duration_seconds
  mlTrainingDuration: histogram(
    {
      name: 'ml.training.duration',
      unit: 's',
      description: 'Time to train a model',
      attributes: ['model_name'],
    },
    buckets.mlTraining,
  ),
} as const;

/** Seed 003: goals, alerts sent to people; seed 004: errors. */
export const operationsMetrics = {
  // goal_progress_ratio
  goalProgress: gauge({
    name: 'goal.progress',
    unit: '1',
    description: 'Progress towards a goal',
    attributes: ['goal_type'],
  }),
  // goal_current_value / goal_target_value
  goalCurrentValue: gauge({
    name: 'goal.current.value',
    unit: '{value}',
    description: 'Current value of a goal',
    attributes: ['goal_type'],
  }),
  goalTargetValue: gauge({
    name: 'goal.target.value',
    unit: '{value}',
    description: 'Target value of a goal',
    attributes: ['goal_type'],
  }),
  // goal_achievements_total
  goalAchievements: counter({
    name: 'goal.achievements',
    unit: '{goal}',
    description: 'Goals reached',
    attributes: ['goal_type'],
  }),
  // notifications_sent_total: alerts delivered to people, by channel and outcome
  notificationsSent: counter({
    name: 'notifications.sent',
    unit: '{notification}',
    description: 'Alert notifications by type, priority, channel and outcome',
    attributes: ['alert_type', 'priority', 'channel', 'status'],
  }),
  // notification_delivery_duration_seconds
  notificationDeliveryDuration: histogram(
    {
      name: 'notification.delivery.duration',
      unit: 's',
      description: 'Time to deliver a notification',
      attributes: ['channel'],
    },
    buckets.http,
  ),
  // errors_total (seed 004)
  errors: counter({
    name: 'errors',
    unit: '{error}',
    description: 'Handled errors by type and component',
    attributes: ['type', 'component'],
  }),
} as const;

/**
 * Seed 001 and 003: key-value storage and databases. The platform's only database is NATS
 * key-value (Redis and SQL in the seeds), so seed 001's database query metrics are these.
 */
export const storageMetrics = {
  // kv_operations_total (seed 001's redis_operations_total)
  kvOperations: counter({
    name: 'kv.operations',
    unit: '{operation}',
    description: 'Key-value operations by bucket, operation and outcome',
    attributes: ['bucket', 'operation', 'status'],
  }),
  // kv_operation_duration_seconds
  kvOperationDuration: histogram(
    {
      name: 'kv.operation.duration',
      unit: 's',
      description: 'Time of a key-value operation',
      attributes: ['bucket', 'operation'],
    },
    buckets.database,
  ),
  // nats_connection_errors_total (seed 001's redis_connection_errors_total)
  natsConnectionErrors: counter({
    name: 'nats.connection.errors',
    unit: '{error}',
    description: 'Disconnections and errors of the NATS connection',
    attributes: ['kind'],
  }),
  // cache_lookups_total: hits and misses (seed 003's cache metrics)
  cacheLookups: counter({
    name: 'cache.lookups',
    unit: '{lookup}',
    description: 'Cache lookups by cache and result (hit, miss)',
    attributes: ['cache', 'result'],
  }),
} as const;

export const catalog = {
  ...pipelineMetrics,
  ...signalMetrics,
  ...marketDataMetrics,
  ...tradingMetrics,
  ...riskMetrics,
  ...dataCollectionMetrics,
  ...modelMetrics,
  ...operationsMetrics,
  ...storageMetrics,
} as const;

export type PlatformCatalog = typeof catalog;
