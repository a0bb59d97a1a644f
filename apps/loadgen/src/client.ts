/**
 * The load generator's HTTP client: each request is a CLIENT span marked as synthetic traffic
 * whose context travels in `traceparent`, so a generated call and everything it causes form one
 * trace. Every answer is checked against the statuses the scenario expects.
 */
import { context, SpanKind, SpanStatusCode, type TextMapSetter } from '@opentelemetry/api';
import { Operation, type Telemetry } from '@tradeobs/telemetry';

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

const headerSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

export class ApiClient {
  readonly #baseUrl: string;
  readonly #telemetry: Telemetry;
  readonly #requests: Operation;

  constructor(baseUrl: string, telemetry: Telemetry) {
    this.#baseUrl = baseUrl;
    this.#telemetry = telemetry;
    this.#requests = new Operation({
      tracer: telemetry.tracer,
      count: telemetry.meter.createCounter('loadgen.requests', {
        unit: '{request}',
        description:
          'Requests sent by the load generator, by scenario and whether the answer was the expected one',
      }),
      outcomeAttribute: 'outcome',
    });
  }

  /** The answer, or undefined when the request failed: a failure is recorded, never thrown. */
  async send(scenario: string, call: Call): Promise<Answer | undefined> {
    const { propagator, logger } = this.#telemetry;
    // The answer's status decides the outcome, so the request changes it once answered.
    const metricAttributes: { scenario: string; outcome: Outcome } = { scenario, outcome: 'expected' };
    try {
      return await this.#requests.run(
        `${call.method} ${call.route}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'http.request.method': call.method,
            'url.template': call.route,
            'user_agent.synthetic.type': 'test',
            'loadgen.scenario': scenario,
          },
          metricAttributes,
        },
        async (span) => {
          const headers: Record<string, string> = { 'user-agent': userAgent };
          propagator.inject(context.active(), headers, headerSetter);
          let body: string | undefined;
          if (call.body !== undefined) {
            body = typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
            headers['content-type'] = call.contentType ?? 'application/json';
          }
          try {
            const response = await fetch(`${this.#baseUrl}${call.path}`, {
              method: call.method,
              headers,
              ...(body === undefined ? {} : { body }),
              signal: AbortSignal.timeout(10_000),
            });
            const text = await response.text();
            span.setAttribute('http.response.status_code', response.status);
            if (!call.expect.includes(response.status)) {
              metricAttributes.outcome = 'unexpected';
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
            // Logged here, inside the span, so that the line carries its trace id.
            logger.warn('request failed', { scenario, method: call.method, route: call.route, error });
            throw error;
          }
        },
      );
    } catch {
      // Already on the span and counted with outcome `error`: the run goes on.
      return undefined;
    }
  }
}
