import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { portEnvironment, ports, portVariable } from './ports.ts';
import { renderTemplate } from './render.ts';
import { collectorProfiles, readSettings } from './settings.ts';

describe('port table', () => {
  it('gives every component its own port', () => {
    const values = Object.values(ports);
    assert.equal(new Set(values).size, values.length);
  });

  it('names each port variable after its table entry', () => {
    assert.equal(portVariable('collectorOtlpGrpc'), 'COLLECTOR_OTLP_GRPC_PORT');
    assert.equal(portEnvironment().PROMETHEUS_PORT, '9090');
  });
});

describe('config templates', () => {
  it('fills placeholders and leaves regex back-references alone', () => {
    const text = renderTemplate(
      "targets: ['127.0.0.1:${PROMETHEUS_PORT}']\nreplacement: ${1}",
      portEnvironment(),
      't',
    );
    assert.equal(text, "targets: ['127.0.0.1:9090']\nreplacement: ${1}");
  });

  it('rejects an unknown placeholder by name', () => {
    assert.throws(
      () => renderTemplate('port: ${NO_SUCH_PORT}', {}, 'x.yml'),
      /x\.yml: unknown placeholder \$\{NO_SUCH_PORT\}/,
    );
  });
});

describe('runner settings', () => {
  it("defaults to the local profile, in-memory Jaeger, 5 load scenarios a second and the notifier's runbooks", () => {
    assert.deepEqual(readSettings({}), {
      collectorProfile: 'local',
      collectorTailSampling: false,
      jaegerStorage: 'memory',
      jaegerMaxTraces: 25000,
      collectorMemoryLimitMib: 512,
      loadgenRate: 5,
      runbookBaseUrl: 'http://127.0.0.1:8006/runbooks',
    });
  });

  it('names the variable and the allowed values of a wrong setting', () => {
    assert.throws(
      () => readSettings({ JAEGER_STORAGE: 'cassandra' }),
      /JAEGER_STORAGE="cassandra" is not valid; allowed values: memory, badger/,
    );
    assert.throws(
      () => readSettings({ COLLECTOR_PROFILE: 'nope' }),
      new RegExp(`COLLECTOR_PROFILE="nope" is not valid; allowed values: ${collectorProfiles().join(', ')}`),
    );
    assert.throws(
      () => readSettings({ COLLECTOR_TAIL_SAMPLING: 'yes' }),
      /COLLECTOR_TAIL_SAMPLING="yes" is not valid; allowed values: true, false/,
    );
    assert.throws(
      () => readSettings({ COLLECTOR_PROFILE: 'datadog', COLLECTOR_TAIL_SAMPLING: 'true' }),
      /COLLECTOR_TAIL_SAMPLING=true is an option of COLLECTOR_PROFILE=local, not of "datadog"/,
    );
    assert.throws(
      () => readSettings({ COLLECTOR_MEMORY_LIMIT_MIB: '-5' }),
      /COLLECTOR_MEMORY_LIMIT_MIB="-5"/,
    );
    assert.throws(
      () => readSettings({ LOADGEN_RATE: 'fast' }),
      /LOADGEN_RATE="fast" is not valid; expected a number above 0/,
    );
    assert.throws(
      () => readSettings({ RUNBOOK_BASE_URL: 'docs/runbooks.md' }),
      /RUNBOOK_BASE_URL="docs\/runbooks.md" is not valid; expected an absolute http or https URL/,
    );
  });
});
