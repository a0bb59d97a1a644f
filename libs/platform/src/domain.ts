/**
 * The platform's vocabulary, as schemas: what the API accepts, what travels on NATS and what
 * is stored in key-value buckets. One definition validates input, types the code and feeds
 * the OpenAPI document.
 */
import { z } from 'zod';

export const strategies = ['sma_crossover', 'momentum', 'ml_direction'] as const;
export const signalTypes = ['buy', 'sell'] as const;
export const symbols = ['BTCUSD', 'ETHUSD', 'SOLUSD', 'AAPL', 'MSFT'] as const;

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64');
const timestamp = z.iso.datetime();

export const Strategy = z.enum(strategies);
export type Strategy = z.infer<typeof Strategy>;
export const SignalType = z.enum(signalTypes);
export type SignalType = z.infer<typeof SignalType>;
export const TradingSymbol = z.enum(symbols);
export type TradingSymbol = z.infer<typeof TradingSymbol>;

const riskLimitFields = {
  maxOrderUsd: z.number().positive().max(1_000_000),
  maxPositionUsd: z.number().positive().max(10_000_000),
  maxDrawdown: z.number().gt(0).max(1),
};
export const RiskLimits = z
  .object({
    maxOrderUsd: riskLimitFields.maxOrderUsd.default(10_000),
    maxPositionUsd: riskLimitFields.maxPositionUsd.default(50_000),
    maxDrawdown: riskLimitFields.maxDrawdown.default(0.2),
  })
  .strict();

const signalFilterFields = {
  types: z.array(SignalType).min(1),
  minConfidence: z.number().min(0).max(1),
};
export const SignalFilter = z
  .object({
    types: signalFilterFields.types.default(['buy', 'sell']),
    minConfidence: signalFilterFields.minConfidence.default(0.5),
  })
  .strict();

const pipelineFields = {
  name: z.string().trim().min(1).max(100),
  strategy: Strategy,
  symbols: z.array(TradingSymbol).min(1).max(symbols.length),
  enabled: z.boolean(),
};

export const PipelineInput = z
  .object({
    ...pipelineFields,
    signalFilter: SignalFilter.prefault({}),
    riskLimits: RiskLimits.prefault({}),
    enabled: pipelineFields.enabled.default(true),
  })
  .strict();
export type PipelineInput = z.infer<typeof PipelineInput>;

/** A partial change: only the fields given are changed, nested objects field by field. */
export const PipelineUpdate = z
  .object({
    name: pipelineFields.name.optional(),
    strategy: pipelineFields.strategy.optional(),
    symbols: pipelineFields.symbols.optional(),
    enabled: pipelineFields.enabled.optional(),
    signalFilter: z.object(signalFilterFields).partial().strict().optional(),
    riskLimits: z.object(riskLimitFields).partial().strict().optional(),
  })
  .strict();
export type PipelineUpdate = z.infer<typeof PipelineUpdate>;

export const Pipeline = PipelineInput.extend({ id, createdAt: timestamp, updatedAt: timestamp });
export type Pipeline = z.infer<typeof Pipeline>;

export const Signal = z
  .object({
    id,
    type: SignalType,
    symbol: TradingSymbol,
    strategy: Strategy,
    confidence: z.number().min(0).max(1),
    price: z.number().positive(),
    /** When the market data that produced the signal was observed. */
    observedAt: timestamp,
    generatedAt: timestamp,
  })
  .strict();
export type Signal = z.infer<typeof Signal>;

export const triggerModes = ['manual', 'signal'] as const;
export const TriggerMode = z.enum(triggerModes);
export type TriggerMode = z.infer<typeof TriggerMode>;

export const ExecutionRequest = z
  .object({
    executionId: id,
    pipelineId: id,
    triggerMode: TriggerMode,
    signal: Signal.optional(),
    requestedAt: timestamp,
  })
  .strict();
export type ExecutionRequest = z.infer<typeof ExecutionRequest>;

export const executionStatuses = ['queued', 'running', 'succeeded', 'failed', 'rejected'] as const;
export const ExecutionStatus = z.enum(executionStatuses);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

export const Fill = z.object({
  symbol: TradingSymbol,
  side: SignalType,
  quantity: z.number(),
  expectedPrice: z.number(),
  price: z.number(),
  slippageBps: z.number(),
});
export type Fill = z.infer<typeof Fill>;

export const Execution = z.object({
  id,
  pipelineId: id,
  triggerMode: TriggerMode,
  status: ExecutionStatus,
  signalId: id.optional(),
  requestedAt: timestamp,
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
  fills: z.array(Fill).default([]),
  /** Why orders were not placed or the run failed. */
  reasons: z.array(z.string()).default([]),
});
export type Execution = z.infer<typeof Execution>;

export const botStatuses = ['created', 'running', 'paused', 'stopped'] as const;
export const BotStatus = z.enum(botStatuses);
export type BotStatus = z.infer<typeof BotStatus>;

export const BotInput = z
  .object({
    name: z.string().trim().min(1).max(100),
    pipelineId: id,
    symbol: TradingSymbol,
  })
  .strict();
export type BotInput = z.infer<typeof BotInput>;

export const Bot = BotInput.extend({
  id,
  status: BotStatus,
  trades: z.number().int().nonnegative(),
  realizedPnlUsd: z.number(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Bot = z.infer<typeof Bot>;

export const Position = z.object({ quantity: z.number(), averagePrice: z.number().nonnegative() });
export type Position = z.infer<typeof Position>;

export const StrategyRecord = z.object({
  closedTrades: z.number().int().nonnegative(),
  winningTrades: z.number().int().nonnegative(),
  realizedPnlUsd: z.number(),
});
export type StrategyRecord = z.infer<typeof StrategyRecord>;

export const Portfolio = z.object({
  cashUsd: z.number(),
  positions: z.partialRecord(TradingSymbol, Position),
  realizedPnlUsd: z.number(),
  /** Closed trades and realised P&L per strategy, for win rate and strategy P&L. */
  strategies: z.partialRecord(Strategy, StrategyRecord),
  /** Highest total value seen, for the drawdown. */
  peakValueUsd: z.number(),
  /** Total value at the first update of the UTC day, for the daily P&L. */
  dayStartValueUsd: z.number(),
  day: z.string(),
  updatedAt: timestamp,
});
export type Portfolio = z.infer<typeof Portfolio>;

export const Tick = z
  .object({ symbol: TradingSymbol, price: z.number().positive(), observedAt: timestamp })
  .strict();
export type Tick = z.infer<typeof Tick>;

/** Path parameter of every resource. */
export const IdParam = z.object({ id });
export const initialCashUsd = 1_000_000;
