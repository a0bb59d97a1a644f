/**
 * The datasources every dashboard refers to, by the fixed uids that
 * dashboards/provisioning/datasources/datasources.yaml gives them: provisioned dashboards then
 * resolve their datasources on any Grafana without an import step.
 */
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

export const prometheus = { type: 'prometheus', uid: 'prometheus' } as const satisfies DataSourceRef;
export const jaeger = { type: 'jaeger', uid: 'jaeger' } as const satisfies DataSourceRef;
export const victoriaLogs = {
  type: 'victoriametrics-logs-datasource',
  uid: 'victorialogs',
} as const satisfies DataSourceRef;
