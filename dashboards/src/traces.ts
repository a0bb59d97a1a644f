/**
 * Links from panels to traces. Grafana has no Jaeger view of its own: a link opens Explore
 * with a Jaeger search over the dashboard's time range, for a service and optionally an
 * operation (a span name). Values may be Grafana variables (`${service}`,
 * `${__field.labels.job}`), which Grafana fills in when the link is followed.
 */
import { DashboardLinkBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { jaeger } from './datasources.ts';

export interface TraceSearch {
  service: string;
  operation?: string;
}

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

export function traceLink(title: string, search: TraceSearch): DashboardLinkBuilder {
  return new DashboardLinkBuilder(title).url(jaegerSearchUrl(search)).targetBlank(true);
}
