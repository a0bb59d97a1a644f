import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readTelemetryConfig, TelemetryConfigError } from '../src/config.ts';

const identity = { serviceName: 'api', serviceVersion: '1.2.3' };
const read = (env: Record<string, string>) => readTelemetryConfig(identity, env);
const strict = (env: Record<string, string>) => readTelemetryConfig(identity, env, { strict: true });

function problems(env: Record<string, string>): string {
  try {
    strict(env);
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

  it('warns about every value it does not understand, naming variable, value, allowed values and default, and starts with the defaults', () => {
    const config = read({
      OTEL_METRICS_EXPORTER: 'statsd',
      OTEL_TRACES_EXPORTER: 'none,otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_SDK_DISABLED: 'yes',
    });
    assert.deepEqual(
      [
        config.metricsExporters,
        config.tracesExporters,
        config.otlpTraces.protocol,
        config.sampler,
        config.disabled,
      ],
      [['otlp'], ['otlp'], 'grpc', 'parentbased_always_on', false],
    );
    const warnings = config.warnings.join('\n');
    assert.match(
      warnings,
      /OTEL_METRICS_EXPORTER="statsd": statsd not known \(allowed values are otlp, prometheus, console, none, comma-separated\); using "otlp"/,
    );
    assert.match(warnings, /OTEL_TRACES_EXPORTER="none,otlp": "none" cannot be combined/);
    assert.match(
      warnings,
      /OTEL_EXPORTER_OTLP_PROTOCOL="http\/json": allowed values are grpc, http\/protobuf; using "grpc"/,
    );
    assert.match(
      warnings,
      /OTEL_TRACES_SAMPLER="sometimes": allowed values are always_on, always_off, traceidratio.*; using "parentbased_always_on"/,
    );
    assert.match(warnings, /OTEL_SDK_DISABLED="yes": allowed values are true, false; using false/);
    assert.equal(config.warnings.length, 5, 'one warning each');
  });

  it('in strict mode (the option or TELEMETRY_CONFIG_STRICT=true) stops with every problem at once', () => {
    const env = { OTEL_METRICS_EXPORTER: 'statsd', OTEL_TRACES_SAMPLER: 'sometimes' };
    assert.match(problems(env), /OTEL_METRICS_EXPORTER="statsd"/);
    assert.match(problems(env), /OTEL_TRACES_SAMPLER="sometimes"/);
    assert.throws(
      () => readTelemetryConfig(identity, { ...env, TELEMETRY_CONFIG_STRICT: 'true' }),
      TelemetryConfigError,
    );
    assert.equal(readTelemetryConfig(identity, env).warnings.length, 2, 'lenient by default');
  });

  it('keeps the known items of a list with an unknown one, as the specification asks', () => {
    const config = read({ OTEL_PROPAGATORS: 'tracecontext,xray,b3', OTEL_METRICS_EXPORTER: 'otlp,statsd' });
    assert.deepEqual(config.propagators, ['tracecontext', 'b3']);
    assert.deepEqual(config.metricsExporters, ['otlp']);
    assert.match(config.warnings.join('\n'), /OTEL_PROPAGATORS="tracecontext,xray,b3": xray not known/);
  });

  it('rejects bad numbers, ratios, URLs and key-value lists', () => {
    assert.match(
      problems({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }),
      /OTEL_TRACES_SAMPLER_ARG="1.5": expected a number from 0 to 1; using 1/,
    );
    assert.match(
      problems({ OTEL_METRIC_EXPORT_INTERVAL: 'soon' }),
      /OTEL_METRIC_EXPORT_INTERVAL="soon": expected an integer.*; using 60000/,
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
      problems({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      }),
      /OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318": expected an http:\/\/ or https:\/\/ URL/,
    );
    assert.match(
      problems({ OTEL_RESOURCE_ATTRIBUTES: 'team' }),
      /OTEL_RESOURCE_ATTRIBUTES="team": expected key=value/,
    );
  });

  it('takes gRPC endpoints without a scheme: TLS unless OTEL_EXPORTER_OTLP_INSECURE=true', () => {
    assert.equal(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }).otlpTraces.url,
      'https://collector:4317',
    );
    const insecure = read({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317',
      OTEL_EXPORTER_OTLP_INSECURE: 'true',
    });
    assert.equal(insecure.otlpTraces.url, 'http://collector:4317');
    const perSignal = read({
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'metrics:4317',
      OTEL_EXPORTER_OTLP_METRICS_INSECURE: 'true',
    });
    assert.equal(perSignal.otlpMetrics.url, 'http://metrics:4317');
    assert.equal(perSignal.otlpTraces.url, 'http://127.0.0.1:4317');
    assert.equal(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4317' }).otlpTraces.url,
      'https://collector:4317',
    );
  });

  it('reads propagators, diagnostics level and temporality, with their defaults', () => {
    const defaults = read({});
    assert.deepEqual(
      [defaults.propagators, defaults.diagLogLevel, defaults.metricsTemporality],
      [['tracecontext', 'baggage'], 'info', 'cumulative'],
    );
    const config = read({
      OTEL_PROPAGATORS: 'b3multi',
      OTEL_LOG_LEVEL: 'DEBUG',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'LowMemory',
    });
    assert.deepEqual(
      [config.propagators, config.diagLogLevel, config.metricsTemporality],
      [['b3multi'], 'debug', 'lowmemory'],
    );
    assert.deepEqual(read({ OTEL_PROPAGATORS: 'none' }).propagators, []);
    const wrong = read({
      OTEL_LOG_LEVEL: 'loud',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes',
    });
    assert.deepEqual([wrong.diagLogLevel, wrong.metricsTemporality], ['info', 'cumulative']);
    assert.match(
      wrong.warnings.join('\n'),
      /OTEL_LOG_LEVEL="loud": allowed values are none, error, warn, info/,
    );
    assert.match(
      wrong.warnings.join('\n'),
      /OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="sometimes": allowed values are cumulative, delta, lowmemory/,
    );
  });

  it('limits attributes: a safe default length, general limits refined per span', () => {
    assert.deepEqual(read({}).spanLimits, {
      attributeCountLimit: 128,
      attributeValueLengthLimit: 4096,
      eventCountLimit: 128,
      linkCountLimit: 128,
      attributePerEventCountLimit: 128,
      attributePerLinkCountLimit: 128,
    });
    const general = read({
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '10',
    }).spanLimits;
    assert.deepEqual([general.attributeValueLengthLimit, general.attributeCountLimit], [100, 10]);
    const specific = read({
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100',
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '50',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '5',
      OTEL_SPAN_LINK_COUNT_LIMIT: '6',
      OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '7',
      OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '8',
    }).spanLimits;
    assert.deepEqual(
      [
        specific.attributeValueLengthLimit,
        specific.eventCountLimit,
        specific.linkCountLimit,
        specific.attributePerEventCountLimit,
        specific.attributePerLinkCountLimit,
      ],
      [50, 5, 6, 7, 8],
    );
    assert.match(
      problems({ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '-1' }),
      /OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="-1".*using 128/,
    );
  });

  it('reads compression per signal, the general one as fallback', () => {
    const config = read({
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'none',
    });
    assert.deepEqual([config.otlpTraces.compression, config.otlpMetrics.compression], ['gzip', 'none']);
    assert.equal(read({}).otlpTraces.compression, 'none');
    assert.match(
      problems({ OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }),
      /OTEL_EXPORTER_OTLP_COMPRESSION="zstd": allowed values are gzip, none/,
    );
  });

  it('logs: OTLP gRPC by default, the batch processor of the specification, our record limits, lines on', () => {
    const config = read({});
    assert.deepEqual(config.logsExporters, ['otlp']);
    assert.deepEqual(
      [
        config.otlpLogs.url,
        config.otlpLogs.protocol,
        config.otlpLogs.timeoutMillis,
        config.otlpLogs.compression,
      ],
      ['http://127.0.0.1:4317', 'grpc', 10_000, 'none'],
    );
    assert.deepEqual(config.batchLogRecordProcessor, {
      scheduledDelayMillis: 1000,
      exportTimeoutMillis: 30000,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
    });
    assert.deepEqual(config.logRecordLimits, {
      attributeCountLimit: 128,
      attributeValueLengthLimit: 4096,
      bodyLengthLimit: 16_384,
    });
    assert.equal(config.logStdout, true);
    assert.equal(readTelemetryConfig(identity, {}, { logStdout: false }).logStdout, false);
    assert.equal(
      readTelemetryConfig(identity, { TELEMETRY_LOG_STDOUT: 'true' }, { logStdout: false }).logStdout,
      true,
      'the variable overrides the option',
    );
  });

  it('logs: the per-signal OTLP settings win over the general ones, as for traces and metrics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-'));
    await writeFile(join(dir, 'ca.pem'), 'CA');
    await writeFile(join(dir, 'logs-ca.pem'), 'LOGS CA');
    const config = read({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=t1',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-tenant=logs',
      OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
      OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '2000',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'ca.pem'),
      OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: join(dir, 'logs-ca.pem'),
    });
    assert.deepEqual(
      [
        config.otlpLogs.protocol,
        config.otlpLogs.url,
        config.otlpLogs.headers,
        config.otlpLogs.timeoutMillis,
        config.otlpLogs.compression,
        config.otlpLogs.tls.ca?.toString(),
      ],
      [
        'http/protobuf',
        'https://otlp.example.com/v1/logs',
        { authorization: 'Bearer abc', 'x-tenant': 'logs' },
        2000,
        'gzip',
        'LOGS CA',
      ],
    );
    assert.deepEqual(
      [config.otlpTraces.protocol, config.otlpTraces.timeoutMillis, config.otlpTraces.tls.ca?.toString()],
      ['grpc', 5000, 'CA'],
      'the other signals keep the general ones',
    );
    assert.equal(
      read({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://logs.example.com/custom' }).otlpLogs.url,
      'https://logs.example.com/custom',
    );
    assert.equal(
      read({ OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf' }).otlpLogs.url,
      'http://127.0.0.1:4318/v1/logs',
    );
    assert.equal(
      read({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'logs:4317', OTEL_EXPORTER_OTLP_LOGS_INSECURE: 'true' })
        .otlpLogs.url,
      'http://logs:4317',
    );
  });

  it('logs: reads OTEL_LOGS_EXPORTER, OTEL_BLRP_* and the log record limits, and warns about values it does not understand', () => {
    const config = read({
      OTEL_LOGS_EXPORTER: 'console,otlp',
      OTEL_BLRP_SCHEDULE_DELAY: '200',
      OTEL_BLRP_EXPORT_TIMEOUT: '5000',
      OTEL_BLRP_MAX_QUEUE_SIZE: '100',
      OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '10',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '10',
      OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '5',
      TELEMETRY_LOG_BODY_LENGTH_LIMIT: '1000',
      TELEMETRY_LOG_STDOUT: 'FALSE',
    });
    assert.deepEqual(config.logsExporters, ['console', 'otlp']);
    assert.deepEqual(config.batchLogRecordProcessor, {
      scheduledDelayMillis: 200,
      exportTimeoutMillis: 5000,
      maxQueueSize: 100,
      maxExportBatchSize: 10,
    });
    assert.equal(config.batchSpanProcessor.maxQueueSize, 2048, 'OTEL_BSP_* are apart');
    assert.deepEqual(config.logRecordLimits, {
      attributeValueLengthLimit: 100,
      attributeCountLimit: 5,
      bodyLengthLimit: 1000,
    });
    assert.equal(config.spanLimits.attributeCountLimit, 10, 'the general limit, for spans');
    assert.equal(config.logStdout, false);
    assert.deepEqual(read({ OTEL_LOGS_EXPORTER: 'none' }).logsExporters, ['none']);
    assert.deepEqual(
      read({ OTEL_BLRP_MAX_QUEUE_SIZE: '100' }).batchLogRecordProcessor.maxExportBatchSize,
      100,
    );

    const wrong = read({
      OTEL_LOGS_EXPORTER: 'otlp,loki',
      OTEL_BLRP_SCHEDULE_DELAY: '-1',
      OTEL_BLRP_MAX_QUEUE_SIZE: '0',
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '0',
      TELEMETRY_LOG_BODY_LENGTH_LIMIT: 'big',
      TELEMETRY_LOG_STDOUT: 'no',
    });
    assert.deepEqual(
      [
        wrong.logsExporters,
        wrong.batchLogRecordProcessor.scheduledDelayMillis,
        wrong.batchLogRecordProcessor.maxQueueSize,
        wrong.logRecordLimits.attributeValueLengthLimit,
        wrong.logRecordLimits.bodyLengthLimit,
        wrong.logStdout,
      ],
      [['otlp'], 1000, 2048, 4096, 16_384, true],
    );
    const warnings = wrong.warnings.join('\n');
    assert.match(
      warnings,
      /OTEL_LOGS_EXPORTER="otlp,loki": loki not known \(allowed values are otlp, console, none, comma-separated\); using "otlp"/,
    );
    assert.match(warnings, /OTEL_BLRP_SCHEDULE_DELAY="-1": expected an integer from 1 to .*; using 1000/);
    assert.match(warnings, /OTEL_BLRP_MAX_QUEUE_SIZE="0": expected an integer from 1 to .*; using 2048/);
    assert.match(
      warnings,
      /OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT="0": expected an integer from 1 to .*; using 4096/,
    );
    assert.match(
      warnings,
      /TELEMETRY_LOG_BODY_LENGTH_LIMIT="big": expected an integer from 1 to .*; using 16384/,
    );
    assert.match(warnings, /TELEMETRY_LOG_STDOUT="no": allowed values are true, false; using true/);
    assert.equal(wrong.warnings.length, 6, 'one warning each');
    assert.match(
      problems({ OTEL_LOGS_EXPORTER: 'none,console' }),
      /OTEL_LOGS_EXPORTER="none,console": "none" cannot be combined/,
    );
    assert.match(
      problems({ OTEL_BLRP_MAX_QUEUE_SIZE: '100', OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '200' }),
      /OTEL_BLRP_MAX_EXPORT_BATCH_SIZE="200": expected an integer from 1 to 100/,
    );
  });

  it('reads the TLS files the variables name; an unreadable one or a certificate without its key is a warning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-'));
    await writeFile(join(dir, 'ca.pem'), 'CA');
    await writeFile(join(dir, 'client.pem'), 'CERT');
    await writeFile(join(dir, 'client-key.pem'), 'KEY');
    const config = read({
      OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'ca.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: join(dir, 'client.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: join(dir, 'client-key.pem'),
      OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: join(dir, 'client.pem'),
    });
    const text = (b: Buffer | undefined) => b?.toString();
    assert.deepEqual(
      [text(config.otlpTraces.tls.ca), text(config.otlpTraces.tls.cert), text(config.otlpTraces.tls.key)],
      ['CA', 'CERT', 'KEY'],
    );
    assert.equal(text(config.otlpMetrics.tls.ca), 'CERT', 'the per-signal file wins');
    assert.match(
      problems({ OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'missing.pem') }),
      /OTEL_EXPORTER_OTLP_CERTIFICATE=".*missing.pem": expected a readable file \(ENOENT\); using "none"/,
    );
    const halfPair = read({ OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: join(dir, 'client.pem') });
    assert.equal(halfPair.otlpTraces.tls.cert, undefined);
    assert.match(halfPair.warnings.join('\n'), /needs its key/);
  });
});
