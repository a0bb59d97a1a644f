/**
 * Trading (seeds 001, 003 and 004): bots, orders, fills, rejections, slippage, P&L, the
 * portfolio and its drawdown, risk, and the models behind the signals.
 *
 * The bots and the portfolio live in NATS KV: every api instance reports the same bots, every
 * worker the same portfolio, so their gauges are `shared` (max over instances), never summed.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { stat, timeseries } from './panels.ts';
import { orZero, quantile, serviceSelector, shared, sumRate } from './promql.ts';

const selected = serviceSelector();
const jobTraces = { service: '${__field.labels.job}' };
const gainLoss = [
  [null, 'red'],
  [0, 'green'],
] as const;
/** HighPortfolioDrawdown fires above 15%. */
const drawdownSteps = [
  [null, 'green'],
  [0.1, 'yellow'],
  [0.15, 'red'],
] as const;

export function trading(): DashboardModel {
  return buildDashboard({
    uid: 'trading',
    title: 'Trading',
    description:
      'Bots, orders, fills, rejections, slippage, P&L, portfolio value, drawdown, risk and models.',
    rows: [
      {
        title: 'Bots',
        panels: [
          stat({
            title: 'Running bots',
            description: 'Bots in status running; NoActiveBotsRunning fires at 0 for 2 minutes.',
            unit: 'none',
            queries: [
              {
                expr: shared('trading_bots_active_total', serviceSelector('status="running"')),
                legend: 'running',
              },
            ],
            thresholds: [
              [null, 'red'],
              [1, 'green'],
            ],
            height: 8,
          }),
          timeseries({
            title: 'Bots by status',
            description: 'Bots running, paused and stopped.',
            unit: 'none',
            queries: [
              { expr: shared('trading_bots_active_total', selected, ['status']), legend: '{{status}}' },
            ],
            stacked: true,
            width: 9,
          }),
          timeseries({
            title: 'Bot trades',
            description: 'Trades per second by outcome.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('trading_bot_trades_total', selected, ['job', 'status']),
                legend: '{{status}}',
              },
            ],
            seriesTraces: jobTraces,
            width: 9,
          }),
          timeseries({
            title: 'P&L by bot',
            description: 'Realised profit and loss of each bot (closed trades), as the api reports the bots.',
            unit: 'currencyUSD',
            queries: [{ expr: shared('trading_bot_pnl_usd', selected, ['bot_id']), legend: '{{bot_id}}' }],
            thresholds: gainLoss,
            top: { count: 10, by: 'magnitude' },
            width: 24,
          }),
        ],
      },
      {
        title: 'Orders and fills',
        panels: [
          timeseries({
            title: 'Orders placed and filled',
            description: 'Orders sent to the simulated venue and orders filled, by side.',
            unit: 'ops',
            queries: [
              { expr: sumRate('orders_placed_total', selected, ['job', 'side']), legend: 'placed {{side}}' },
              { expr: sumRate('orders_filled_total', selected, ['job', 'side']), legend: 'filled {{side}}' },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Fill ratio',
            description: 'Orders filled over orders placed.',
            unit: 'percentunit',
            queries: [
              {
                expr: `${sumRate('orders_filled_total', selected)} / ${sumRate('orders_placed_total', selected)}`,
                legend: 'filled',
              },
            ],
            thresholds: [
              [null, 'red'],
              [0.8, 'yellow'],
              [0.95, 'green'],
            ],
            min: 0,
          }),
          timeseries({
            title: 'Trades executed',
            description: 'Trades per second by strategy.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('trades_executed_total', selected, ['job', 'strategy']),
                legend: '{{strategy}}',
              },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Rejections',
            description: 'Trades rejected per second, by reason.',
            unit: 'ops',
            queries: [
              {
                expr: orZero(
                  sumRate('trades_rejected_total', selected, ['job', 'reason']),
                  sumRate('trades_executed_total', selected, ['job']),
                  ['reason'],
                ),
                legend: '{{reason}}',
              },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Slippage',
            description: 'Fill price against expected price, in basis points.',
            unit: 'suffix: bp',
            queries: [
              { expr: quantile(0.5, 'slippage_bps', selected, ['side']), legend: 'p50 {{side}}' },
              { expr: quantile(0.95, 'slippage_bps', selected, ['side']), legend: 'p95 {{side}}' },
            ],
            thresholds: [
              [null, 'green'],
              [10, 'yellow'],
              [50, 'red'],
            ],
          }),
          timeseries({
            title: 'Order fill and decision time',
            description:
              '95th percentiles: order placement to fill, signal to decision, strategy evaluation.',
            unit: 's',
            queries: [
              { expr: quantile(0.95, 'order_fill_duration_seconds', selected), legend: 'fill p95' },
              {
                expr: quantile(0.95, 'trading_decision_duration_seconds', selected, ['strategy']),
                legend: 'decision p95 {{strategy}}',
              },
              {
                expr: quantile(0.95, 'strategy_evaluation_duration_seconds', selected, ['strategy']),
                legend: 'evaluation p95 {{strategy}}',
              },
            ],
          }),
        ],
      },
      {
        title: 'Portfolio',
        panels: [
          stat({
            title: 'Portfolio value',
            description: 'Cash plus positions at market, as the workers report the shared portfolio.',
            unit: 'currencyUSD',
            queries: [{ expr: shared('portfolio_total_value_usd', selected), legend: 'value' }],
          }),
          stat({
            title: 'Cash',
            description: 'Cash available.',
            unit: 'currencyUSD',
            queries: [{ expr: shared('portfolio_cash_balance_usd', selected), legend: 'cash' }],
          }),
          stat({
            title: 'Daily P&L',
            description: 'Profit and loss since the start of the UTC day.',
            unit: 'currencyUSD',
            queries: [{ expr: shared('portfolio_daily_pnl_usd', selected), legend: 'today' }],
            thresholds: gainLoss,
          }),
          stat({
            title: 'Drawdown',
            description: 'Fall of the portfolio value from its peak; HighPortfolioDrawdown fires above 15%.',
            unit: 'percentunit',
            queries: [{ expr: shared('portfolio_drawdown_ratio', selected), legend: 'drawdown' }],
            thresholds: drawdownSteps,
          }),
          timeseries({
            title: 'Portfolio value and cash',
            description: 'Total value and cash over time.',
            unit: 'currencyUSD',
            queries: [
              { expr: shared('portfolio_total_value_usd', selected), legend: 'value' },
              { expr: shared('portfolio_cash_balance_usd', selected), legend: 'cash' },
            ],
          }),
          timeseries({
            title: 'Drawdown over time',
            description: 'Fall of the portfolio value from its peak.',
            unit: 'percentunit',
            queries: [{ expr: shared('portfolio_drawdown_ratio', selected), legend: 'drawdown' }],
            thresholds: drawdownSteps,
            min: 0,
          }),
          timeseries({
            title: 'Open positions',
            description: 'Open positions by symbol.',
            unit: 'none',
            queries: [
              { expr: shared('portfolio_positions_count', selected, ['symbol']), legend: '{{symbol}}' },
            ],
            stacked: true,
          }),
          timeseries({
            title: 'Strategies',
            description:
              'Realised P&L per strategy, from closed trades; open positions are in the portfolio value.',
            unit: 'currencyUSD',
            queries: [
              {
                expr: shared('strategy_profit_loss_usd', selected, ['strategy']),
                legend: '{{strategy}}',
              },
            ],
            thresholds: gainLoss,
          }),
          timeseries({
            title: 'Win rate',
            description: 'Share of closed trades that made money, per strategy.',
            unit: 'percentunit',
            queries: [{ expr: shared('strategy_win_rate', selected, ['strategy']), legend: '{{strategy}}' }],
            min: 0,
            max: 1,
            width: 24,
          }),
        ],
      },
      {
        title: 'Risk',
        panels: [
          timeseries({
            title: 'Risk limit breaches',
            description:
              'Orders or positions that hit a risk limit, per second; each one fires RiskLimitBreach.',
            unit: 'ops',
            queries: [
              {
                expr: orZero(
                  sumRate('risk_limit_breaches_total', selected, ['job', 'limit_type']),
                  sumRate('orders_placed_total', selected, ['job']),
                  ['limit_type'],
                ),
                legend: '{{limit_type}}',
              },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Exposure',
            description: 'Gross exposure by symbol.',
            unit: 'currencyUSD',
            queries: [{ expr: shared('risk_exposure_usd', selected, ['symbol']), legend: '{{symbol}}' }],
            stacked: true,
          }),
        ],
      },
      {
        title: 'Models',
        panels: [
          timeseries({
            title: 'Model drift',
            description:
              'Distribution drift of model inputs, 0 (none) to 1; ModelDrift fires above 0.15 for 5 minutes.',
            unit: 'none',
            queries: [
              {
                expr: `max by (model_name, model_version) (ml_model_drift_score${selected})`,
                legend: '{{model_name}} {{model_version}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.15, 'red'],
            ],
            min: 0,
            max: 1,
          }),
          timeseries({
            title: 'Model accuracy',
            description: 'Accuracy on recent outcomes.',
            unit: 'percentunit',
            queries: [
              {
                expr: `max by (model_name, model_version) (ml_model_accuracy${selected})`,
                legend: '{{model_name}} {{model_version}}',
              },
            ],
            min: 0,
            max: 1,
          }),
          timeseries({
            title: 'Predictions',
            description: 'Predictions per second by model.',
            unit: 'ops',
            queries: [
              { expr: sumRate('ml_predictions_total', selected, ['model_name']), legend: '{{model_name}}' },
            ],
          }),
          timeseries({
            title: 'Prediction time',
            description: '95th percentile of one prediction.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'ml_prediction_duration_seconds', selected, ['model_name']),
                legend: 'p95 {{model_name}}',
              },
            ],
          }),
        ],
      },
    ],
  });
}
