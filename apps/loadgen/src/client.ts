/**
 * The load generator's HTTP client: each request is a CLIENT span marked as synthetic traffic
 * whose context travels in `traceparent`, so a generated call and everything it causes form one
 * trace. Every answer is checked against the statuses the scenario expects.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Telemetry } from '@tradeobs/telemetry';

export const userAgent = 'tradeobs-loadgen/0.1.0';

export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The route template, for span names and metrics (never the concrete path). */
  route: string;
  path: string;
  /** A JSON value, or a raw string sent as is (for malformed bodies). */
  body?: unknown;
  contentType?: string;
  expect: readonly number[];
}

export interface Answer {
  status: number;
  body: unknown;
}

export type Outcome = 'expected' | 'unexpected' | 'error';

export class ApiClient {
  readonly #baseUrl: string;
  readonly #telemetry: Telemetry;
  readonly #requests;

  constructor(baseUrl: string, telemetry: Telemetry) {
    this.#baseUrl = baseUrl;
    this.#telemetry = telemetry;
    this.#requests = telemetry.meter.createCounter('loadgen.requests', {
      unit: '{request}',
      description:
        'Requests sent by the load generator, by scenario and whether the answer was the expected one',
    });
  }

  async send(scenario: string, call: Call): Promise<Answer | undefined> {
    const { tracer, propagator, logger } = this.#telemetry;
    return tracer.startActiveSpan(
      `${call.method} ${call.route}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': call.method,
          'url.template': call.route,
          'user_agent.synthetic.type': 'test',
          'loadgen.scenario': scenario,
        },
      },
      async (span) => {
        const headers: Record<string, string> = { 'user-agent': userAgent };
        propagator.inject(trace.setSpan(context.active(), span), headers, {
          set: (carrier: Record<string, string>, key, value) => {
            carrier[key] = value;
          },
        });
        let body: string | undefined;
        if (call.body !== undefined) {
          body = typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
          headers['content-type'] = call.contentType ?? 'application/json';
        }
        let outcome: Outcome = 'error';
        try {
          const response = await fetch(`${this.#baseUrl}${call.path}`, {
            method: call.method,
            headers,
            ...(body === undefined ? {} : { body }),
            signal: AbortSignal.timeout(10_000),
          });
          const text = await response.text();
          span.setAttribute('http.response.status_code', response.status);
          outcome = call.expect.includes(response.status) ? 'expected' : 'unexpected';
          if (outcome === 'unexpected') {
            span.setStatus({ code: SpanStatusCode.ERROR, message: `unexpected status ${response.status}` });
            logger.warn('unexpected answer', {
              scenario,
              method: call.method,
              route: call.route,
              status: response.status,
              body: text.slice(0, 300),
            });
          }
          return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          if (error instanceof Error) span.recordException(error);
          logger.warn('request failed', { scenario, method: call.method, route: call.route, error });
          return undefined;
        } finally {
          this.#requests.add(1, { scenario, outcome });
          span.end();
        }
      },
    );
  }
}
