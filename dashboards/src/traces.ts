/**
 * Links from panels to traces. Grafana has no Jaeger view of its own: a link opens Explore
 * with a Jaeger search over the dashboard's time range, for a service and optionally an
 * operation (a span name). Values may be Grafana variables (`${traceService}`,
 * `${__field.labels.job}`), which Grafana fills in when the link is followed.
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import { type DashboardLink, DashboardLinkBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { jaeger } from './datasources.ts';

export interface TraceSearch {
  service: string;
  operation?: string;
}

/**
 * The hidden variable that holds the service for trace links: the selected service, or nothing
 * when the service variable is All (dashboard.ts defines it). The service variable itself reads
 * `.*` in the All state, its allValue, which Prometheus needs and Jaeger does not understand: a
 * search for the service `.*` finds no trace. An empty service opens the Jaeger search form with
 * no service chosen, where the person picks one.
 */
export const traceServiceVariable = 'trace_service';

/** The selected service as a Jaeger search wants it: empty in the All state. */
export const selectedTraceService = `\${${traceServiceVariable}}`;

/**
 * The Explore URL of a Jaeger search. The pane state is JSON in the query string, so it is
 * percent-encoded, except for `${…}` variables: Grafana interpolates links before opening them
 * and would not recognise an encoded variable.
 */
export function jaegerSearchUrl(search: TraceSearch): string {
  const query = {
    refId: 'A',
    datasource: jaeger,
    queryType: 'search',
    service: search.service,
    ...(search.operation === undefined ? {} : { operation: search.operation }),
  };
  const panes = {
    traces: { datasource: jaeger.uid, queries: [query], range: { from: '${__from}', to: '${__to}' } },
  };
  const encoded = encodeURIComponent(JSON.stringify(panes)).replace(
    /%24%7B(.*?)%7D/g,
    (_, variable: string) => `\${${decodeURIComponent(variable)}}`,
  );
  return `/explore?schemaVersion=1&orgId=1&panes=${encoded}`;
}

/**
 * A link, without the `placement` the SDK (0.0.21) gives every link by default: with
 * `"inControlsMenu"`, Grafana 12 leaves a dashboard link out of the bar above the panels and
 * lists it only in its dashboard controls menu. Without a placement, a link shows where Grafana
 * always put it.
 */
export function visibleLink(link: DashboardLinkBuilder): Builder<DashboardLink> {
  return {
    build: () => {
      const built = { ...link.build() };
      delete built.placement;
      return built;
    },
  };
}

export function traceLink(title: string, search: TraceSearch): Builder<DashboardLink> {
  return visibleLink(new DashboardLinkBuilder(title).url(jaegerSearchUrl(search)).targetBlank(true));
}
