/**
 * Market Data (seeds 001 and 003): updates, lag and freshness per symbol and source, and the
 * collectors that fetch the data.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { stat, timeseries } from './panels.ts';
import { orZero, quantile, serviceSelector, shared, sumRate } from './promql.ts';

const selected = serviceSelector();
const jobTraces = { service: '${__field.labels.job}' };

export function marketData(): DashboardModel {
  return buildDashboard({
    uid: 'market-data',
    title: 'Market Data',
    description: 'Market data updates, lag and freshness, and the health of the data collectors.',
    rows: [
      {
        title: 'Updates, lag and freshness',
        panels: [
          // Every service that follows the market (api, worker, signal-generator) counts each tick
          // it receives: one series per service, never stacked, which would count a tick once per
          // consumer.
          timeseries({
            title: 'Updates by symbol',
            description: 'Market data updates received per second, by service and symbol.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('market_data_updates_total', selected, ['job', 'symbol']),
                legend: '{{job}} {{symbol}}',
              },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Updates by source',
            description: 'Market data updates received per second, by service and source.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('market_data_updates_total', selected, ['job', 'source']),
                legend: '{{job}} {{source}}',
              },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Lag',
            description:
              'Time between a tick and its processing, by source; HighMarketDataLag fires when p95 stays above 5 s.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.5, 'market_data_lag_seconds', selected, ['source']),
                legend: 'p50 {{source}}',
              },
              {
                expr: quantile(0.95, 'market_data_lag_seconds', selected, ['source']),
                legend: 'p95 {{source}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [1, 'yellow'],
              [5, 'red'],
            ],
          }),
          stat({
            title: 'Freshness',
            description: 'Seconds since the last update of each symbol.',
            unit: 's',
            queries: [
              {
                expr: `time() - ${shared('market_data_last_update_timestamp_seconds', selected, ['symbol'])}`,
                legend: '{{symbol}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [10, 'yellow'],
              [60, 'red'],
            ],
            width: 12,
            height: 8,
          }),
        ],
      },
      {
        title: 'Collectors',
        panels: [
          stat({
            title: 'Collector health',
            description: 'Whether each collector works; DataCollectorDown fires after 2 minutes unhealthy.',
            unit: 'none',
            queries: [
              {
                expr: `min by (collector, source) (data_collector_healthy${selected})`,
                legend: '{{collector}} ({{source}})',
              },
            ],
            valueText: { '1': ['healthy', 'green'], '0': ['down', 'red'] },
            thresholds: [
              [null, 'red'],
              [1, 'green'],
            ],
            width: 8,
            height: 8,
          }),
          timeseries({
            title: 'Points collected',
            description: 'Data points collected per second by collector and data type.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('data_points_collected_total', selected, ['job', 'collector', 'data_type']),
                legend: '{{collector}} {{data_type}}',
              },
            ],
            seriesTraces: jobTraces,
            width: 8,
          }),
          timeseries({
            title: 'Collection errors',
            description: 'Failed collections per second by error type.',
            unit: 'ops',
            queries: [
              {
                expr: orZero(
                  sumRate('data_collection_errors_total', selected, ['job', 'collector', 'error_type']),
                  sumRate('data_points_collected_total', selected, ['job', 'collector']),
                  ['error_type'],
                ),
                legend: '{{collector}} {{error_type}}',
              },
            ],
            seriesTraces: jobTraces,
            width: 8,
          }),
          timeseries({
            title: 'Collection time',
            description: '95th percentile of one collection round.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'data_collection_duration_seconds', selected, ['collector']),
                legend: 'p95 {{collector}}',
              },
            ],
          }),
          timeseries({
            title: 'WebSocket connections',
            description: 'Open WebSocket connections by endpoint.',
            unit: 'short',
            queries: [
              {
                // Each api instance holds its own connections: these add up.
                expr: `sum by (endpoint) (websocket_connections_active${selected})`,
                legend: '{{endpoint}}',
              },
            ],
          }),
        ],
      },
    ],
  });
}
