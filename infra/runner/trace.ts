/**
 * Trace lookup through Jaeger's HTTP API (v3, OTLP JSON), printed as a span tree. Jaeger's
 * web UI is not part of its Go module, so this is how the local stack shows a trace.
 */

import { StackError } from './log.ts';
import { LOOPBACK, ports } from './ports.ts';

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}

interface OtlpAttribute {
  key: string;
  value: OtlpAnyValue;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number | string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpAttribute[];
  events?: { name: string; attributes?: OtlpAttribute[] }[];
  status?: { code?: number | string; message?: string };
}

export interface OtlpTraceData {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

export interface SpanNode {
  spanId: string;
  service: string;
  name: string;
  kind: string;
  startNs: bigint;
  durationMs: number;
  error: string | undefined;
  children: SpanNode[];
}

const kinds = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

function kindName(kind: number | string | undefined): string {
  if (typeof kind === 'number') return kinds[kind] ?? String(kind);
  return (kind ?? 'UNSPECIFIED').replace(/^SPAN_KIND_/, '');
}

function isError(code: number | string | undefined): boolean {
  return code === 2 || code === 'STATUS_CODE_ERROR';
}

function attribute(attributes: OtlpAttribute[] | undefined, key: string): string | undefined {
  const value = attributes?.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  return String(value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue ?? '');
}

/** Builds the span forest of one trace; spans whose parent is missing become roots. */
export function buildSpanTree(data: OtlpTraceData): SpanNode[] {
  const nodes = new Map<string, SpanNode>();
  const parents = new Map<string, string | undefined>();
  for (const resourceSpans of data.resourceSpans ?? []) {
    const service = attribute(resourceSpans.resource?.attributes, 'service.name') ?? 'unknown';
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        const startNs = BigInt(span.startTimeUnixNano);
        const errorType = attribute(span.attributes, 'error.type');
        nodes.set(span.spanId, {
          spanId: span.spanId,
          service,
          name: span.name,
          kind: kindName(span.kind),
          startNs,
          durationMs: Number(BigInt(span.endTimeUnixNano) - startNs) / 1e6,
          error: isError(span.status?.code) ? span.status?.message || errorType || 'error' : undefined,
          children: [],
        });
        parents.set(span.spanId, span.parentSpanId || undefined);
      }
    }
  }
  const roots: SpanNode[] = [];
  for (const [spanId, node] of nodes) {
    const parent = parents.get(spanId);
    const parentNode = parent ? nodes.get(parent) : undefined;
    if (parentNode) parentNode.children.push(node);
    else roots.push(node);
  }
  const byStart = (a: SpanNode, b: SpanNode) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0);
  for (const node of nodes.values()) node.children.sort(byStart);
  return roots.sort(byStart);
}

/**
 * Renders a span forest as an indented tree: service, operation, kind, duration, errors, and
 * how many log records each span has when `logCounts` (by span id) is given.
 */
export function renderSpanTree(
  traceId: string,
  roots: SpanNode[],
  logCounts?: ReadonlyMap<string, number>,
): string {
  const all: SpanNode[] = [];
  const collect = (node: SpanNode): void => {
    all.push(node);
    for (const child of node.children) collect(child);
  };
  for (const root of roots) collect(root);
  const services = new Set(all.map((n) => n.service));
  const errors = all.filter((n) => n.error).length;
  const lines = [
    `trace ${traceId}: ${all.length} spans, ${services.size} services (${[...services].join(', ')})` +
      (errors ? `, ${errors} with errors` : '') +
      (logCounts ? `, ${[...logCounts.values()].reduce((sum, n) => sum + n, 0)} log records` : ''),
  ];
  const walk = (node: SpanNode, prefix: string, branch: string): void => {
    const error = node.error ? `  ERROR: ${node.error}` : '';
    const records = logCounts?.get(node.spanId);
    const logs = records ? `  ${records} log${records === 1 ? '' : 's'}` : '';
    lines.push(
      `${prefix}${branch}${node.service}  ${node.name}  [${node.kind}]  ${node.durationMs.toFixed(2)} ms${logs}${error}`,
    );
    const childPrefix = prefix + (branch === '├─ ' ? '│  ' : branch === '└─ ' ? '   ' : '');
    for (const [i, child] of node.children.entries()) {
      walk(child, childPrefix, i === node.children.length - 1 ? '└─ ' : '├─ ');
    }
  };
  // One root (the usual case) needs no branch of its own; several are drawn as siblings.
  for (const [i, root] of roots.entries()) {
    walk(root, '', roots.length === 1 ? '' : i === roots.length - 1 ? '└─ ' : '├─ ');
  }
  return lines.join('\n');
}

/** A trace id as W3C Trace Context writes it, lower-cased; a StackError names a malformed one. */
export function checkTraceId(traceId: string): string {
  if (!/^[0-9a-f]{32}$/i.test(traceId)) {
    throw new StackError(
      `trace id ${JSON.stringify(traceId)} is not valid: expected 32 hexadecimal characters`,
    );
  }
  return traceId.toLowerCase();
}

const jaegerApi = `http://${LOOPBACK}:${ports.jaegerQuery}/api/v3`;

/** Fetches one trace by id; `undefined` when Jaeger does not (yet) have it. */
export async function fetchTrace(traceId: string): Promise<OtlpTraceData | undefined> {
  const id = checkTraceId(traceId);
  let response: Response;
  try {
    response = await fetch(`${jaegerApi}/traces/${id}`, {
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new StackError(
      `Jaeger's query API at ${jaegerApi} is not reachable (${(error as Error).message}); is the stack up?`,
    );
  }
  if (response.status === 404) return undefined;
  if (!response.ok) throw new StackError(`Jaeger answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { result?: OtlpTraceData };
  return body.result;
}

export interface TraceSummary {
  traceId: string;
  root: string;
  spans: number;
  durationMs: number;
  startedAt: Date;
}

/** The most recent traces of a service within the last `lookbackMinutes`. */
export async function findTraces(service: string, lookbackMinutes = 60, limit = 20): Promise<TraceSummary[]> {
  const now = Date.now();
  const query = new URLSearchParams({
    'query.service_name': service,
    'query.start_time_min': new Date(now - lookbackMinutes * 60_000).toISOString(),
    'query.start_time_max': new Date(now + 60_000).toISOString(),
    // Jaeger 2.13's name for the limit; later releases call it query.search_depth.
    'query.num_traces': String(limit),
  });
  const response = await fetch(`${jaegerApi}/traces?${query.toString()}`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status === 404) return [];
  if (!response.ok) throw new StackError(`Jaeger answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { result?: OtlpTraceData };
  const byTrace = new Map<string, OtlpSpan[]>();
  for (const resourceSpans of body.result?.resourceSpans ?? []) {
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        byTrace.set(span.traceId, [...(byTrace.get(span.traceId) ?? []), span]);
      }
    }
  }
  return [...byTrace.entries()]
    .map(([traceId, spans]) => {
      const start = spans.reduce(
        (min, s) => (BigInt(s.startTimeUnixNano) < min ? BigInt(s.startTimeUnixNano) : min),
        BigInt(spans[0]?.startTimeUnixNano ?? 0),
      );
      const end = spans.reduce(
        (max, s) => (BigInt(s.endTimeUnixNano) > max ? BigInt(s.endTimeUnixNano) : max),
        0n,
      );
      const root = spans.find((s) => !s.parentSpanId) ?? spans[0];
      return {
        traceId,
        root: root?.name ?? '',
        spans: spans.length,
        durationMs: Number(end - start) / 1e6,
        startedAt: new Date(Number(start / 1_000_000n)),
      };
    })
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
}
