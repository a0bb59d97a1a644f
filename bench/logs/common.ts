/**
 * What the logs benchmarks share: where the collector's and VictoriaLogs' own counters are, the
 * number of records VictoriaLogs answers for, and the cores a process used between two readings.
 */
import { queryLogs } from '../../infra/runner/logs.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { scrapedValue } from '../../tests/support/prometheus.ts';

export const collectorMetrics = `http://${LOOPBACK}:${ports.collectorMetrics}/metrics`;
export const victoriaLogsMetrics = `http://${LOOPBACK}:${ports.victoriaLogs}/metrics`;
/** The local profile's one logs exporter; its counters carry this label. */
export const logsExporter = 'exporter="otlp_http/victorialogs"';

export const collectorCounter = (name: string, having = '') => scrapedValue(collectorMetrics, name, having);
export const victoriaLogsCounter = (name: string, having = '') =>
  scrapedValue(victoriaLogsMetrics, name, having);

/**
 * Rows VictoriaLogs has taken in over OTLP so far (not yet necessarily searchable). v1.52.1
 * labels them `type="opentelemetry_protobuf"`, not `type="opentelemetry"`.
 */
export const rowsIngested = () =>
  victoriaLogsCounter('vl_rows_ingested_total', 'type="opentelemetry_protobuf"');

/** How many records of `service` a LogsQL query finds: what is stored and searchable. */
export async function storedRecords(service: string): Promise<number> {
  const [row] = await queryLogs(`_stream:{service.name="${service}"} | count() records`, 1);
  return Number(row?.records ?? 0);
}

/** Cores used per process between two readings `seconds` apart (1 = one core busy). */
export function coresBetween(
  before: Record<string, number>,
  after: Record<string, number>,
  seconds: number,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([name, s]) => [name, (s - (before[name] ?? 0)) / seconds]),
  );
}
