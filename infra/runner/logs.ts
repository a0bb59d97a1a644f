/**
 * Log lookup through VictoriaLogs' LogsQL HTTP API: the records of one trace across services in
 * time order, and how many records each span of a trace has (shown beside the span tree).
 */
import { StackError } from './log.ts';
import { LOOPBACK, ports } from './ports.ts';
import { checkTraceId } from './trace.ts';

const logsApi = `http://${LOOPBACK}:${ports.victoriaLogs}/select/logsql`;

/** Fields that the printed line shows in its own columns, or that every record repeats. */
const shownApart = new Set([
  '_time',
  '_msg',
  '_stream',
  '_stream_id',
  'trace_id',
  'span_id',
  'severity_text',
  'severity_number',
  'service.name',
  'service.namespace',
  'service.version',
  'service.instance.id',
  'deployment.environment.name',
  'scope.name',
  'scope.version',
  'telemetry.sdk.language',
  'telemetry.sdk.name',
  'telemetry.sdk.version',
  'host.name',
  'host.arch',
  'process.pid',
  'process.runtime.name',
  'process.runtime.version',
]);

export type LogRecord = Record<string, string>;

/** Runs a LogsQL query; VictoriaLogs answers one JSON object a line. */
export async function queryLogs(logsql: string, limit: number): Promise<LogRecord[]> {
  let response: Response;
  try {
    response = await fetch(`${logsApi}/query`, {
      method: 'POST',
      body: new URLSearchParams({ query: logsql, limit: String(limit) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new StackError(
      `VictoriaLogs' query API at ${logsApi} is not reachable (${(error as Error).message}); is the stack up?`,
    );
  }
  if (!response.ok)
    throw new StackError(`VictoriaLogs answered ${response.status}: ${await response.text()}`);
  return (await response.text())
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogRecord);
}

/** Every record of one trace, oldest first. */
export function fetchTraceLogs(traceId: string, limit = 1000): Promise<LogRecord[]> {
  return queryLogs(`trace_id:=${checkTraceId(traceId)} | sort by (_time)`, limit);
}

/** How many records each span of a trace has, by span id. */
export async function countLogsBySpan(traceId: string): Promise<Map<string, number>> {
  const rows = await queryLogs(
    `trace_id:=${checkTraceId(traceId)} | stats by (span_id) count() records`,
    10_000,
  );
  return new Map(rows.map((row) => [row.span_id ?? '', Number(row.records ?? 0)]));
}

/** One line a record: time, service, severity, message, span, then its own attributes. */
export function renderLogRecords(records: LogRecord[]): string {
  return records
    .map((record) => {
      const attributes = Object.entries(record)
        .filter(([key]) => !shownApart.has(key))
        .map(([key, value]) => `${key}=${/\s/.test(value) ? JSON.stringify(value) : value}`)
        .join(' ');
      const severity = (record.severity_text ?? '').toUpperCase().padEnd(5);
      return [
        record._time ?? '',
        (record['service.name'] ?? 'unknown').padEnd(18),
        severity,
        record._msg ?? '',
        record.span_id ? `span=${record.span_id}` : '',
        attributes,
      ]
        .filter((part) => part !== '')
        .join('  ');
    })
    .join('\n');
}
