/**
 * Structured logs, written two ways from one call: a JSON object a line on standard output, each
 * carrying the service and, inside a span, the trace_id, span_id and trace_flags that link the
 * line to its trace in Jaeger (what systemd's journal and container runtimes collect); and an
 * OpenTelemetry log record with the same fields, exported by OTLP with the service's resource
 * (see logs.ts). Either can be off. Neither waits for anything: the line is one write, the record
 * one push onto the batch processor's bounded queue.
 */
import { type Context, context, type Logger as RecordLogger, trace } from '@opentelemetry/api';
import type { LogLevel } from './config.ts';
import { jsonReplacer, logRecordOf, unserialisable } from './logs.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line and record. */
  child(fields: LogFields): Logger;
}

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  service: string;
  level: LogLevel;
  /** Whether to write the JSON line (TELEMETRY_LOG_STDOUT); default true. */
  lines?: boolean;
  /** Where lines go; standard output by default. */
  write?: (line: string) => void;
  /** Where log records go: a logger of the SDK's LoggerProvider. Without it, lines only. */
  records?: RecordLogger | undefined;
}

function jsonLine(
  service: string,
  level: LogLevel,
  message: string,
  time: number,
  active: Context,
  fields: LogFields,
): string {
  const line: LogFields = { time: new Date(time).toISOString(), level, service, msg: message };
  const spanContext = trace.getSpan(active)?.spanContext();
  if (spanContext && trace.isSpanContextValid(spanContext)) {
    line.trace_id = spanContext.traceId;
    line.span_id = spanContext.spanId;
    // Two hex digits, as in traceparent and the log data model: 01 when the trace was sampled.
    // With head sampling most ids belong to traces that were never kept; this says which.
    line.trace_flags = spanContext.traceFlags.toString(16).padStart(2, '0');
  }
  Object.assign(line, fields);
  try {
    return `${JSON.stringify(line, jsonReplacer)}\n`;
  } catch {
    // A field JSON cannot write (a cycle) is written as the record has it: logging must not
    // throw in the caller's code.
    for (const [key, value] of Object.entries(fields)) {
      try {
        JSON.stringify(value, jsonReplacer);
      } catch {
        line[key] = unserialisable(value);
      }
    }
    return `${JSON.stringify(line, jsonReplacer)}\n`;
  }
}

export function createLogger(options: LoggerOptions, bound: LogFields = {}): Logger {
  const threshold = severity[options.level];
  const write =
    options.lines === false ? undefined : (options.write ?? ((line: string) => process.stdout.write(line)));
  const { records } = options;
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (severity[level] < threshold) return;
    const time = Date.now();
    const active = context.active();
    const all = fields ? { ...bound, ...fields } : bound;
    if (write) write(jsonLine(options.service, level, message, time, active, all));
    records?.emit(logRecordOf(level, message, all, time, active));
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}
