import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineComponents, stackEnvironment } from './components.ts';
import type { Binaries } from './install.ts';
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

describe('scaled-out stack', () => {
  const scaled = { ...readSettings({}), natsCluster: 3, workerInstances: 2, triggerDispatcherInstances: 2 };

  it('gives every node and instance its own ports, none taken by another component', () => {
    const listens = defineComponents(scaled).flatMap((component) => component.listens);
    assert.equal(new Set(listens).size, listens.length, listens.join(', '));
  });

  it('names extra nodes and instances <group>-<n> and gives the services every node and the replicas', async () => {
    const components = defineComponents(scaled);
    assert.deepEqual(
      components.filter((c) => c.group === 'nats' || c.group === 'worker').map((c) => c.name),
      ['nats', 'nats-2', 'nats-3', 'worker', 'worker-2'],
    );
    const worker2 = components.find((c) => c.name === 'worker-2');
    const launch = await worker2?.prepare({} as Binaries, stackEnvironment(scaled));
    assert.equal(launch?.env?.PORT, '8012');
    assert.equal(launch?.env?.NATS_URL, 'nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224');
    assert.equal(launch?.env?.NATS_STREAM_REPLICAS, '3');
    assert.equal(
      stackEnvironment(scaled).NATS_SCRAPE_TARGETS,
      "['127.0.0.1:8222', '127.0.0.1:8223', '127.0.0.1:8224']",
    );
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
      natsCluster: 1,
      workerInstances: 1,
      triggerDispatcherInstances: 1,
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
      () => readSettings({ NATS_CLUSTER: '2' }),
      /NATS_CLUSTER="2" is not valid; allowed values: 1, 3, 5/,
    );
    assert.throws(
      () => readSettings({ WORKER_INSTANCES: '0' }),
      /WORKER_INSTANCES="0" is not valid; expected an integer from 1 to 4/,
    );
    assert.throws(
      () => readSettings({ TRIGGER_DISPATCHER_INSTANCES: 'two' }),
      /TRIGGER_DISPATCHER_INSTANCES="two" is not valid; expected an integer from 1 to 4/,
    );
    assert.throws(
      () => readSettings({ RUNBOOK_BASE_URL: 'docs/runbooks.md' }),
      /RUNBOOK_BASE_URL="docs\/runbooks.md" is not valid; expected an absolute http or https URL/,
    );
  });
});
