import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readTelemetryConfig, TelemetryConfigError } from '../src/config.ts';

const identity = { serviceName: 'api', serviceVersion: '1.2.3' };
const read = (env: Record<string, string>) => readTelemetryConfig(identity, env);

function problems(env: Record<string, string>): string {
  try {
    read(env);
  } catch (error) {
    assert.ok(error instanceof TelemetryConfigError);
    return error.message;
  }
  assert.fail(`no error for ${JSON.stringify(env)}`);
}

describe('environment contract', () => {
  it('defaults: OTLP gRPC to the local collector, parent-based always-on sampling', () => {
    const config = read({});
    assert.equal(config.disabled, false);
    assert.equal(config.serviceName, 'api');
    assert.deepEqual(config.metricsExporters, ['otlp']);
    assert.deepEqual(config.tracesExporters, ['otlp']);
    assert.equal(config.otlpTraces.url, 'http://127.0.0.1:4317');
    assert.equal(config.otlpTraces.protocol, 'grpc');
    assert.equal(config.metricExportIntervalMillis, 60_000);
    assert.equal(config.sampler, 'parentbased_always_on');
    assert.deepEqual(config.batchSpanProcessor, {
      scheduledDelayMillis: 5000,
      exportTimeoutMillis: 30000,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
    });
  });

  it('OTEL_SERVICE_NAME beats the resource attribute, which beats the code', () => {
    assert.equal(read({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' }).serviceName, 'from-attrs');
    assert.equal(
      read({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs', OTEL_SERVICE_NAME: 'from-env' })
        .serviceName,
      'from-env',
    );
  });

  it('decodes OTEL_RESOURCE_ATTRIBUTES and the OTLP headers', () => {
    const config = read({
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,team=trading%20desk',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=t1',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=t2',
    });
    assert.deepEqual(config.resourceAttributes, {
      'deployment.environment.name': 'staging',
      team: 'trading desk',
    });
    assert.deepEqual(config.otlpTraces.headers, { authorization: 'Bearer abc', 'x-tenant': 't2' });
    assert.deepEqual(config.otlpMetrics.headers, { authorization: 'Bearer abc', 'x-tenant': 't1' });
  });

  it('appends the signal path for http/protobuf and takes per-signal endpoints as given', () => {
    const config = read({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://metrics.example.com/custom',
    });
    assert.equal(config.otlpTraces.url, 'https://otlp.example.com/v1/traces');
    assert.equal(config.otlpMetrics.url, 'https://metrics.example.com/custom');
    assert.equal(
      read({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).otlpTraces.url,
      'http://127.0.0.1:4318/v1/traces',
    );
  });

  it('reads exporters, sampler, intervals, batch settings and the Prometheus endpoint', () => {
    const config = read({
      OTEL_METRICS_EXPORTER: 'prometheus,console',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
      OTEL_EXPORTER_PROMETHEUS_PORT: '9464',
      OTEL_SDK_DISABLED: 'true',
    });
    assert.deepEqual(config.metricsExporters, ['prometheus', 'console']);
    assert.deepEqual(config.tracesExporters, ['none']);
    assert.equal(config.samplerRatio, 0.1);
    assert.equal(config.metricExportIntervalMillis, 15000);
    assert.equal(config.batchSpanProcessor.scheduledDelayMillis, 200);
    assert.equal(config.batchSpanProcessor.maxQueueSize, 4096);
    assert.equal(config.prometheus.port, 9464);
    assert.equal(config.disabled, true);
  });

  it('names the variable and the allowed values of every wrong setting, all at once', () => {
    const message = problems({
      OTEL_METRICS_EXPORTER: 'statsd',
      OTEL_TRACES_EXPORTER: 'none,otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_SDK_DISABLED: 'yes',
    });
    assert.match(
      message,
      /OTEL_METRICS_EXPORTER="statsd": allowed values are otlp, prometheus, console, none/,
    );
    assert.match(message, /OTEL_TRACES_EXPORTER="none,otlp": "none" cannot be combined/);
    assert.match(
      message,
      /OTEL_EXPORTER_OTLP_PROTOCOL="http\/json": allowed values are grpc, http\/protobuf/,
    );
    assert.match(
      message,
      /OTEL_TRACES_SAMPLER="sometimes": allowed values are always_on, always_off, traceidratio/,
    );
    assert.match(message, /OTEL_SDK_DISABLED="yes": allowed values are true, false/);
  });

  it('rejects bad numbers, ratios, URLs and key-value lists', () => {
    assert.match(
      problems({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }),
      /OTEL_TRACES_SAMPLER_ARG="1.5": expected a number from 0 to 1/,
    );
    assert.match(
      problems({ OTEL_METRIC_EXPORT_INTERVAL: 'soon' }),
      /OTEL_METRIC_EXPORT_INTERVAL="soon": expected an integer/,
    );
    assert.match(
      problems({ OTEL_EXPORTER_PROMETHEUS_PORT: '70000' }),
      /OTEL_EXPORTER_PROMETHEUS_PORT="70000"/,
    );
    assert.match(
      problems({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200' }),
      /OTEL_BSP_MAX_EXPORT_BATCH_SIZE="200": expected an integer from 1 to 100/,
    );
    assert.match(
      problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }),
      /OTEL_EXPORTER_OTLP_ENDPOINT="collector:4317": expected an http/,
    );
    assert.match(
      problems({ OTEL_RESOURCE_ATTRIBUTES: 'team' }),
      /OTEL_RESOURCE_ATTRIBUTES: "team" is not of the form key=value/,
    );
  });
});
