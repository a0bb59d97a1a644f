/**
 * Every dashboard, and every panel query, for the generator and the tests. Queries keep the
 * dashboards' variables as written: `$service` (a `job` regex; "All" is `.*`), `$instance` (an
 * `instance` regex, multi-valued; "All" is `.*`) and `$__rate_interval` (Grafana's rate window,
 * at least four export intervals).
 */
import type { DashboardModel } from './dashboard.ts';
import { victoriaLogs } from './datasources.ts';
import { marketData } from './market-data.ts';
import { messaging } from './messaging.ts';
import { operations } from './operations.ts';
import { pipelines } from './pipelines.ts';
import { runtime } from './runtime.ts';
import { serviceRed } from './service-red.ts';
import { telemetryPipeline } from './telemetry-pipeline.ts';
import { trading } from './trading.ts';

export function allDashboards(): DashboardModel[] {
  return [
    operations(),
    pipelines(),
    trading(),
    marketData(),
    messaging(),
    serviceRed(),
    runtime(),
    telemetryPipeline(),
  ];
}

export interface PanelQuery {
  /** The dashboard's uid. */
  dashboard: string;
  /** The panel's title. */
  panel: string;
  /** PromQL for Prometheus, LogsQL for VictoriaLogs. */
  language: 'promql' | 'logsql';
  expr: string;
}

export function panelQueries(dashboards: readonly DashboardModel[] = allDashboards()): PanelQuery[] {
  return dashboards.flatMap((dashboard) =>
    (dashboard.panels ?? []).flatMap((panel) =>
      ('targets' in panel ? (panel.targets ?? []) : []).flatMap((target) => {
        if (!('expr' in target) || typeof target.expr !== 'string') return [];
        const datasource = 'datasource' in target ? (target.datasource as { uid?: string }) : undefined;
        return [
          {
            dashboard: dashboard.uid ?? '',
            panel: panel.title ?? '',
            language: datasource?.uid === victoriaLogs.uid ? ('logsql' as const) : ('promql' as const),
            expr: target.expr,
          },
        ];
      }),
    ),
  );
}

/** The file Grafana provisions for a dashboard, relative to dashboards/generated/. */
export function fileName(dashboard: DashboardModel): string {
  return `${dashboard.uid ?? dashboard.title}.json`;
}

/** The JSON as committed: two-space indentation and a final newline, like Prettier's. */
export function render(dashboard: DashboardModel): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
