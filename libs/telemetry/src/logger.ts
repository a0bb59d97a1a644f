/**
 * Structured JSON logs, one object a line, each carrying the service and, inside a span, the
 * trace_id, span_id and trace_flags that link the line to its trace in Jaeger.
 */
import { context, trace } from '@opentelemetry/api';
import type { LogLevel } from './config.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  service: string;
  level: LogLevel;
  /** Where lines go; standard output by default. */
  write?: (line: string) => void;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  return value;
}

export function createLogger(options: LoggerOptions, bound: LogFields = {}): Logger {
  const threshold = severity[options.level];
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (severity[level] < threshold) return;
    const line: LogFields = { time: new Date().toISOString(), level, service: options.service, msg: message };
    const spanContext = trace.getSpan(context.active())?.spanContext();
    if (spanContext && trace.isSpanContextValid(spanContext)) {
      line.trace_id = spanContext.traceId;
      line.span_id = spanContext.spanId;
      // Two hex digits, as in traceparent and the log data model: 01 when the trace was sampled.
      // With head sampling most ids belong to traces that were never kept; this says which.
      line.trace_flags = spanContext.traceFlags.toString(16).padStart(2, '0');
    }
    for (const [key, value] of Object.entries(bound)) line[key] = serialise(value);
    if (fields) for (const [key, value] of Object.entries(fields)) line[key] = serialise(value);
    write(`${JSON.stringify(line)}\n`);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}
