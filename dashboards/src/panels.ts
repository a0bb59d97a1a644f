/**
 * Panel helpers shared by every dashboard, so that each panel states only what is particular
 * to it (title, unit, queries, thresholds) and gets the rest the same way everywhere: the
 * Prometheus datasource, a legend, colours that mean something only where thresholds say so,
 * and a link to the traces of the selected service.
 */
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import {
  BigValueColorMode,
  BigValueGraphMode,
  type DataSourceRef,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  LogsSortOrder,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type DashboardLink,
  type GridPos,
  MappingType,
  type Panel,
  type ThresholdsConfig,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
  type ValueMappingResult,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  PanelBuilder as PieChartBuilder,
  PieChartLegendOptionsBuilder,
  PieChartLegendValues,
  PieChartType,
} from '@grafana/grafana-foundation-sdk/piechart';
import { PanelBuilder as LogsBuilder } from '@grafana/grafana-foundation-sdk/logs';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeSeriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { prometheus, victoriaLogs } from './datasources.ts';
import { type Largest, largest } from './promql.ts';
import { selectedTraceService, type TraceSearch, traceLink } from './traces.ts';

/**
 * Every panel's link to the traces of the selected service; in the All state it opens the Jaeger
 * search without a service (traces.ts), so the title does not name one.
 */
function serviceTraces() {
  return traceLink('Traces of the selected service in Jaeger', { service: selectedTraceService });
}

export interface Query {
  expr: string;
  legend: string;
  /** Ask Prometheus for exemplars: span-metric histograms carry the trace id of samples. */
  exemplars?: boolean;
}

/** A threshold step: from `value` upwards (null: from minus infinity), the colour. */
export type Step = readonly [value: number | null, color: string];

export interface PanelOptions {
  title: string;
  description: string;
  /** A Grafana unit id (see @grafana/grafana-foundation-sdk/units), or `suffix:<text>`. */
  unit: string;
  queries: readonly Query[];
  thresholds?: readonly Step[];
  min?: number;
  max?: number;
  /**
   * Per-series links to the traces behind a series, for panels whose series carry the
   * service (and operation) as labels: `${__field.labels.job}`.
   */
  seriesTraces?: TraceSearch;
  width?: number;
  height?: number;
}

/** A built panel with the room it takes; dashboard.ts places it. */
export interface SizedPanel {
  builder: PlaceablePanel;
  width: number;
  height: number;
}

interface PlaceablePanel extends Builder<Panel> {
  gridPos(gridPos: GridPos): unknown;
  id(id: number): unknown;
}

/** What every panel builder of the SDK has, whatever its visualisation. */
interface CommonPanelBuilder<Self> extends PlaceablePanel {
  title(title: string): Self;
  description(description: string): Self;
  datasource(datasource: DataSourceRef): Self;
  unit(unit: string): Self;
  withTarget(target: Builder<Dataquery>): Self;
  links(links: Builder<DashboardLink>[]): Self;
  dataLinks(links: Builder<DashboardLink>[]): Self;
  thresholds(thresholds: Builder<ThresholdsConfig>): Self;
  min(min: number): Self;
  max(max: number): Self;
}

const refIds = 'ABCDEFGHIJ';

function configure<B extends CommonPanelBuilder<B>>(builder: B, options: PanelOptions): B {
  builder
    .title(options.title)
    .description(options.description)
    .datasource(prometheus)
    .unit(options.unit)
    .links([serviceTraces()]);
  options.queries.forEach((query, index) => {
    const target = new DataqueryBuilder()
      .datasource(prometheus)
      .refId(refIds.charAt(index))
      .expr(query.expr)
      .legendFormat(query.legend)
      .range();
    if (query.exemplars === true) target.exemplar(true);
    builder.withTarget(target);
  });
  if (options.thresholds) builder.thresholds(thresholds(options.thresholds));
  if (options.min !== undefined) builder.min(options.min);
  if (options.max !== undefined) builder.max(options.max);
  if (options.seriesTraces) builder.dataLinks([traceLink('Traces of this series', options.seriesTraces)]);
  return builder;
}

function thresholds(steps: readonly Step[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

function sized(builder: PlaceablePanel, options: PanelOptions, width: number, height: number): SizedPanel {
  return { builder, width: options.width ?? width, height: options.height ?? height };
}

export interface TimeSeriesOptions extends PanelOptions {
  stacked?: boolean;
  /**
   * For panels whose series grow with pipelines, bots, symbols, routes or operations: draw only
   * the `count` largest series at each moment, by value or, for signed values such as P&L, by
   * magnitude. Not with `stacked`: a stack of a changing subset would show a wrong total.
   */
  top?: { count: number; by: Largest };
}

/**
 * The legend of every graph: a table under it, one row per series with its last, highest and
 * mean value, largest last value first. A list of 30 names wraps into an unreadable block; a
 * table scrolls, and its columns tell which series matters without hovering.
 */
function legendTable(): VizLegendOptionsBuilder {
  return new VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(LegendDisplayMode.Table)
    .placement(LegendPlacement.Bottom)
    .calcs(['lastNotNull', 'max', 'mean'])
    .sortBy('Last *')
    .sortDesc(true);
}

/** A graph over time; thresholds, when given, are drawn as dashed lines. */
export function timeseries(options: TimeSeriesOptions): SizedPanel {
  const { top } = options;
  if (top && options.stacked === true)
    throw new Error(`${options.title}: top and stacked exclude each other`);
  const shown: TimeSeriesOptions = top
    ? {
        ...options,
        description: `${options.description} The ${top.count} largest series${top.by === 'magnitude' ? ' by absolute value' : ''} at each moment.`,
        queries: options.queries.map((query) => ({ ...query, expr: largest(top.count, query.expr, top.by) })),
      }
    : options;
  const builder = configure(new TimeSeriesBuilder(), shown)
    .lineWidth(1)
    .fillOpacity(options.stacked === true ? 40 : 10)
    .legend(legendTable())
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
  if (options.thresholds) {
    builder.thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  if (options.stacked === true) builder.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  // A table legend takes rows from the graph: panels of many series get more height for it.
  return sized(builder, options, 12, top ? 10 : 8);
}

export interface StatOptions extends PanelOptions {
  /** Words for values, such as 1 → UP; each value's colour comes with it. */
  valueText?: Readonly<Record<string, readonly [text: string, color: string]>>;
}

/**
 * The colour of a number that is neither good nor bad (a portfolio value, a request rate, an
 * uptime): one base step in the theme's text colour. Without thresholds, Grafana applies its
 * defaults, green and red from 80, and a cash balance of 10 000 USD would read as an alarm.
 */
const neutral: readonly Step[] = [[null, 'text']];

/**
 * The last value of each series, large. Coloured by the thresholds when the panel has some;
 * without, in one neutral colour, so that a colour always means what a threshold says.
 */
export function stat(options: StatOptions): SizedPanel {
  const judged = options.thresholds !== undefined || options.valueText !== undefined;
  const builder = configure(new StatBuilder(), { ...options, thresholds: options.thresholds ?? neutral })
    .colorMode(judged ? BigValueColorMode.Value : BigValueColorMode.None)
    .graphMode(BigValueGraphMode.Area)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  if (options.valueText) builder.mappings([valueMapping(options.valueText)]);
  return sized(builder, options, 6, 5);
}

function valueMapping(valueText: NonNullable<StatOptions['valueText']>): ValueMapping {
  const entries = Object.entries(valueText).map(
    ([value, [text, color]], index): [string, ValueMappingResult] => [value, { text, color, index }],
  );
  return { type: MappingType.ValueToText, options: Object.fromEntries(entries) };
}

/** Shares of a whole, from the last value of each series. */
export function pieChart(options: PanelOptions): SizedPanel {
  const builder = configure(new PieChartBuilder(), options)
    .pieType(PieChartType.Donut)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .legend(
      new PieChartLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Right)
        .values([PieChartLegendValues.Percent]),
    );
  return sized(builder, options, 6, 8);
}

export interface LogsOptions {
  title: string;
  description: string;
  /**
   * A LogsQL query; `$service` is the service variable (a regex, `.*` for all). Logs are not
   * filtered by `$instance`: a record's instance is its field service.instance.id, not part of
   * its stream (collector profile local.yaml), and how the VictoriaLogs plugin writes a
   * multi-valued variable into LogsQL is untested here.
   */
  query: string;
  width?: number;
  height?: number;
}

/**
 * Log records from VictoriaLogs, newest first, each with its fields; a record's trace_id opens
 * its trace (the datasource's derived field, dashboards/provisioning/datasources).
 */
export function logs(options: LogsOptions): SizedPanel {
  // The SDK has no query builder for this datasource: its query is this plain object.
  const target: Builder<Dataquery> = {
    build: () => ({
      refId: 'A',
      datasource: victoriaLogs,
      expr: options.query,
      queryType: 'instant',
      _implementsDataqueryVariant: () => undefined,
    }),
  };
  const builder = new LogsBuilder()
    .title(options.title)
    .description(options.description)
    .datasource(victoriaLogs)
    .withTarget(target)
    .showTime(true)
    .enableLogDetails(true)
    .wrapLogMessage(true)
    .sortOrder(LogsSortOrder.Descending)
    .links([serviceTraces()]);
  return { builder, width: options.width ?? 24, height: options.height ?? 10 };
}
