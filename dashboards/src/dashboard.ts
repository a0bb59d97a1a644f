/**
 * A dashboard from rows of panels: the settings every dashboard shares (time range, refresh,
 * the service and instance variables, links to the other dashboards and to Jaeger) and the grid
 * layout.
 * The SDK's own placement lets a row overflow its 24 columns, so panels are placed here.
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  RowBuilder,
  type VariableModel,
  VariableHide,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { prometheus } from './datasources.ts';
import type { SizedPanel } from './panels.ts';
import { selectedTraceService, traceLink, traceServiceVariable, visibleLink } from './traces.ts';

export interface Row {
  title: string;
  panels: readonly SizedPanel[];
}

/**
 * The dashboard JSON model that Grafana provisions from files (schemaVersion 42). The SDK marks
 * it deprecated in favour of its v2 model, which Grafana reads from files only from version 12
 * with feature flags on; the v1 model works on every Grafana that can run these dashboards.
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated
export type DashboardModel = Dashboard;

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  rows: readonly Row[];
}

/** Tag shared by every generated dashboard; the dashboard links list them by it. */
export const tag = 'trading-platform';

const gridWidth = 24;

/**
 * Services are the `job` label of what they push. Every service exports process_uptime_seconds
 * from start-up, so it lists a service before its first request.
 */
function serviceVariable(): QueryVariableBuilder {
  return new QueryVariableBuilder('service')
    .label('Service')
    .description('The service (OpenTelemetry service.name, the job label)')
    .datasource(prometheus)
    .query('label_values(process_uptime_seconds, job)')
    .definition('label_values(process_uptime_seconds, job)')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all', selected: true });
}

const instances = 'label_values(process_uptime_seconds{job=~"$service"}, instance)';

/**
 * The processes of the selected service: the `instance` label is its service.instance.id, new at
 * every start, so a restarted process is a new instance (the old one stays listed for the part
 * of the time range it reported in).
 */
function instanceVariable(): QueryVariableBuilder {
  return new QueryVariableBuilder('instance')
    .label('Instance')
    .description(
      'Processes of the selected service (service.instance.id, the instance label; new at every start)',
    )
    .datasource(prometheus)
    .query(instances)
    .definition(instances)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .includeAll(true)
    .multi(true)
    .allValue('.*')
    .current({ text: ['All'], value: ['$__all'], selected: true });
}

/**
 * The service for trace links (traces.ts): the selected service, or no value in the All state.
 * Grafana formats the All value as its allValue whatever the format asked for (`.*`; `text`
 * would give "All"), so no format of `$service` itself gives Jaeger something it can search.
 * This query turns the selection into a label (`${service:raw}`, unescaped) and the regex keeps
 * it only when it is a plain name: `.*` is left out, the variable then has no option and is
 * empty, and the link opens the Jaeger search with no service chosen. It asks Prometheus
 * nothing about the data, so it never depends on what reported in the time range.
 */
const traceServiceQuery = 'query_result(label_replace(vector(1), "service", "${service:raw}", "", ""))';

function traceServiceVariableModel(): Builder<VariableModel> {
  const builder = new QueryVariableBuilder(traceServiceVariable)
    .label('Service in Jaeger')
    .description('The selected service for trace links; empty when the service is All')
    .hide(VariableHide.HideVariable)
    .datasource(prometheus)
    .query(traceServiceQuery)
    .definition(traceServiceQuery)
    .regex('/service="([^"*]+)"/')
    .refresh(VariableRefresh.OnDashboardLoad)
    .current({ text: '', value: '' });
  // Derived from $service, so not kept in the URL: a shared URL would otherwise pin it, and a
  // link from another dashboard (includeVars) would carry it across.
  return { build: () => ({ ...builder.build(), skipUrlSync: true }) };
}

export function buildDashboard(spec: DashboardSpec): DashboardModel {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- see DashboardModel
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([tag])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .withVariable(serviceVariable())
    .withVariable(instanceVariable())
    .withVariable(traceServiceVariableModel())
    .link(
      visibleLink(
        new DashboardLinkBuilder('Dashboards')
          .type(DashboardLinkType.Dashboards)
          .tags([tag])
          .asDropdown(true)
          .includeVars(true)
          .keepTime(true),
      ),
    )
    .link(traceLink('Traces in Jaeger', { service: selectedTraceService }));

  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    builder.withRow(new RowBuilder(row.title).id(id++).gridPos({ x: 0, y, w: gridWidth, h: 1 }));
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { builder: panel, width, height } of row.panels) {
      if (x + width > gridWidth) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panel.id(id++);
      panel.gridPos({ x, y, w: width, h: height });
      builder.withPanel(panel);
      x += width;
      rowHeight = Math.max(rowHeight, height);
    }
    y += rowHeight;
  }
  return builder.build();
}
