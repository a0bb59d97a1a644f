/**
 * The runtime metrics are the semantic conventions' (V8 JS, Node.js and process metrics): every
 * name and attribute as @opentelemetry/semantic-conventions spells it, with the instrument type,
 * unit and value type the conventions give it, every heap space reported, and nothing the
 * conventions dropped.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ValueType } from '@opentelemetry/api';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import * as semconv from '@opentelemetry/semantic-conventions/incubating';
import {
  ATTR_CPU_MODE,
  ATTR_NODEJS_EVENTLOOP_STATE,
  ATTR_PROCESS_CONTEXT_SWITCH_TYPE,
  ATTR_SYSTEM_PAGING_FAULT_TYPE,
  ATTR_V8JS_GC_TYPE,
  ATTR_V8JS_HEAP_SPACE_NAME,
  ATTR_V8JS_RESOURCE_TYPE,
  CPU_MODE_VALUE_SYSTEM,
  CPU_MODE_VALUE_USER,
  METRIC_NODEJS_EVENTLOOP_DELAY_MAX,
  METRIC_NODEJS_EVENTLOOP_DELAY_MEAN,
  METRIC_NODEJS_EVENTLOOP_DELAY_MIN,
  METRIC_NODEJS_EVENTLOOP_DELAY_P50,
  METRIC_NODEJS_EVENTLOOP_DELAY_P90,
  METRIC_NODEJS_EVENTLOOP_DELAY_P99,
  METRIC_NODEJS_EVENTLOOP_DELAY_STDDEV,
  METRIC_NODEJS_EVENTLOOP_TIME,
  METRIC_NODEJS_EVENTLOOP_UTILIZATION,
  METRIC_PROCESS_CONTEXT_SWITCHES,
  METRIC_PROCESS_CPU_TIME,
  METRIC_PROCESS_MEMORY_USAGE,
  METRIC_PROCESS_PAGING_FAULTS,
  METRIC_PROCESS_UPTIME,
  METRIC_V8JS_GC_DURATION,
  METRIC_V8JS_HEAP_SPACE_AVAILABLE_SIZE,
  METRIC_V8JS_HEAP_SPACE_PHYSICAL_SIZE,
  METRIC_V8JS_MEMORY_HEAP_LIMIT,
  METRIC_V8JS_MEMORY_HEAP_SPACE_AVAILABLE_SIZE,
  METRIC_V8JS_MEMORY_HEAP_SPACE_PHYSICAL_SIZE,
  METRIC_V8JS_MEMORY_HEAP_SPACE_SIZE,
  METRIC_V8JS_MEMORY_HEAP_USED,
  METRIC_V8JS_RESOURCE_ACTIVE,
  NODEJS_EVENTLOOP_STATE_VALUE_ACTIVE,
  NODEJS_EVENTLOOP_STATE_VALUE_IDLE,
  PROCESS_CONTEXT_SWITCH_TYPE_VALUE_INVOLUNTARY,
  PROCESS_CONTEXT_SWITCH_TYPE_VALUE_VOLUNTARY,
  SYSTEM_PAGING_FAULT_TYPE_VALUE_MAJOR,
  SYSTEM_PAGING_FAULT_TYPE_VALUE_MINOR,
  V8JS_GC_TYPE_VALUE_INCREMENTAL,
  V8JS_GC_TYPE_VALUE_MAJOR,
  V8JS_GC_TYPE_VALUE_MINOR,
  V8JS_GC_TYPE_VALUE_WEAKCB,
  V8JS_RESOURCE_TYPE_VALUE_TCPSERVERWRAP,
  V8JS_RESOURCE_TYPE_VALUE_TCPWRAP,
  V8JS_RESOURCE_TYPE_VALUE_TIMEOUT,
} from '@opentelemetry/semantic-conventions/incubating';
import { testTelemetry } from '../src/testing.ts';

const LOOPBACK = '127.0.0.1';

type Kind = 'counter' | 'updowncounter' | 'gauge' | 'histogram';

interface Convention {
  kind: Kind;
  unit: string;
  valueType: ValueType;
  /**
   * Each attribute the conventions require, with the values they enumerate for it, or `custom`
   * where they name a few and allow others.
   */
  attributes: Record<string, readonly string[] | 'custom'>;
}

/** Every value of `v8js.heap.space.name` that the package enumerates. */
const heapSpaceNames = Object.entries(semconv)
  .filter(([name]) => name.startsWith('V8JS_HEAP_SPACE_NAME_VALUE_'))
  .map(([, value]) => String(value));
const heapSpace = { [ATTR_V8JS_HEAP_SPACE_NAME]: heapSpaceNames };
const delay: Convention = { kind: 'gauge', unit: 's', valueType: ValueType.DOUBLE, attributes: {} };

/** docs/runtime/v8js-metrics.md, docs/runtime/nodejs-metrics.md, docs/system/process-metrics.md. */
const conventions: Record<string, Convention> = {
  [METRIC_PROCESS_UPTIME]: { kind: 'gauge', unit: 's', valueType: ValueType.DOUBLE, attributes: {} },
  [METRIC_PROCESS_CPU_TIME]: {
    kind: 'counter',
    unit: 's',
    valueType: ValueType.DOUBLE,
    attributes: { [ATTR_CPU_MODE]: [CPU_MODE_VALUE_USER, CPU_MODE_VALUE_SYSTEM] },
  },
  [METRIC_PROCESS_MEMORY_USAGE]: {
    kind: 'updowncounter',
    unit: 'By',
    valueType: ValueType.INT,
    attributes: {},
  },
  [METRIC_PROCESS_CONTEXT_SWITCHES]: {
    kind: 'counter',
    unit: '{context_switch}',
    valueType: ValueType.INT,
    attributes: {
      [ATTR_PROCESS_CONTEXT_SWITCH_TYPE]: [
        PROCESS_CONTEXT_SWITCH_TYPE_VALUE_VOLUNTARY,
        PROCESS_CONTEXT_SWITCH_TYPE_VALUE_INVOLUNTARY,
      ],
    },
  },
  [METRIC_PROCESS_PAGING_FAULTS]: {
    kind: 'counter',
    unit: '{fault}',
    valueType: ValueType.INT,
    attributes: {
      [ATTR_SYSTEM_PAGING_FAULT_TYPE]: [
        SYSTEM_PAGING_FAULT_TYPE_VALUE_MAJOR,
        SYSTEM_PAGING_FAULT_TYPE_VALUE_MINOR,
      ],
    },
  },
  [METRIC_V8JS_MEMORY_HEAP_USED]: {
    kind: 'updowncounter',
    unit: 'By',
    valueType: ValueType.INT,
    attributes: heapSpace,
  },
  [METRIC_V8JS_MEMORY_HEAP_SPACE_SIZE]: {
    kind: 'updowncounter',
    unit: 'By',
    valueType: ValueType.INT,
    attributes: heapSpace,
  },
  [METRIC_V8JS_MEMORY_HEAP_SPACE_AVAILABLE_SIZE]: {
    kind: 'updowncounter',
    unit: 'By',
    valueType: ValueType.INT,
    attributes: heapSpace,
  },
  [METRIC_V8JS_MEMORY_HEAP_SPACE_PHYSICAL_SIZE]: {
    kind: 'updowncounter',
    unit: 'By',
    valueType: ValueType.INT,
    attributes: heapSpace,
  },
  // Well-known values for five of the types Node reports; the others are Node's own names.
  [METRIC_V8JS_RESOURCE_ACTIVE]: {
    kind: 'gauge',
    unit: '{resource}',
    valueType: ValueType.INT,
    attributes: { [ATTR_V8JS_RESOURCE_TYPE]: 'custom' },
  },
  [METRIC_V8JS_GC_DURATION]: {
    kind: 'histogram',
    unit: 's',
    valueType: ValueType.DOUBLE,
    attributes: {
      [ATTR_V8JS_GC_TYPE]: [
        V8JS_GC_TYPE_VALUE_MAJOR,
        V8JS_GC_TYPE_VALUE_MINOR,
        V8JS_GC_TYPE_VALUE_INCREMENTAL,
        V8JS_GC_TYPE_VALUE_WEAKCB,
      ],
    },
  },
  [METRIC_NODEJS_EVENTLOOP_UTILIZATION]: {
    kind: 'gauge',
    unit: '1',
    valueType: ValueType.DOUBLE,
    attributes: {},
  },
  [METRIC_NODEJS_EVENTLOOP_TIME]: {
    kind: 'counter',
    unit: 's',
    valueType: ValueType.DOUBLE,
    attributes: {
      [ATTR_NODEJS_EVENTLOOP_STATE]: [NODEJS_EVENTLOOP_STATE_VALUE_ACTIVE, NODEJS_EVENTLOOP_STATE_VALUE_IDLE],
    },
  },
  [METRIC_NODEJS_EVENTLOOP_DELAY_MIN]: delay,
  [METRIC_NODEJS_EVENTLOOP_DELAY_MAX]: delay,
  [METRIC_NODEJS_EVENTLOOP_DELAY_MEAN]: delay,
  [METRIC_NODEJS_EVENTLOOP_DELAY_STDDEV]: delay,
  [METRIC_NODEJS_EVENTLOOP_DELAY_P50]: delay,
  [METRIC_NODEJS_EVENTLOOP_DELAY_P90]: delay,
  [METRIC_NODEJS_EVENTLOOP_DELAY_P99]: delay,
};

/** The `ExplicitBucketBoundaries` advice of docs/runtime/v8js-metrics.md for v8js.gc.duration. */
const gcDurationBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

function kindOf(metric: MetricData): Kind {
  if (metric.dataPointType === DataPointType.HISTOGRAM) return 'histogram';
  if (metric.dataPointType === DataPointType.SUM) return metric.isMonotonic ? 'counter' : 'updowncounter';
  return 'gauge';
}

describe('runtime metrics', () => {
  const { telemetry, metrics } = testTelemetry();
  let collected = new Map<string, MetricData>();
  // A timer that keeps the event loop alive, so that v8js.resource.active has a type to count.
  const timer = setInterval(() => undefined, 60_000);

  before(async () => {
    // What reports only once something happened: a garbage collection, and event-loop delay
    // samples (one per 20 ms).
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    await sleep(100);
    collected = new Map((await metrics()).map((metric) => [metric.descriptor.name, metric]));
  });

  after(async () => {
    clearInterval(timer);
    await telemetry.shutdown();
  });

  it('are the ones the conventions define, and no other', () => {
    assert.deepEqual([...collected.keys()].sort(), Object.keys(conventions).sort());
  });

  it('exist from start-up, before any request, but for GC pauses and event-loop delay', async () => {
    const atStart = testTelemetry();
    const names = await atStart.metricNames();
    await atStart.telemetry.shutdown();
    const later = [
      METRIC_V8JS_GC_DURATION,
      ...Object.keys(conventions).filter((name) => name.includes('.delay.')),
    ];
    const expected = Object.keys(conventions).filter((name) => !later.includes(name));
    assert.deepEqual(names.sort(), expected.sort());
  });

  it('have the instrument type, unit, value type and attributes of the conventions', () => {
    for (const [name, convention] of Object.entries(conventions)) {
      const metric = collected.get(name);
      assert.ok(metric, `${name} collected`);
      assert.equal(kindOf(metric), convention.kind, `${name}: instrument type`);
      assert.equal(metric.descriptor.unit, convention.unit, `${name}: unit`);
      assert.equal(metric.descriptor.valueType, convention.valueType, `${name}: value type`);
      assert.ok(metric.dataPoints.length > 0, `${name}: data points`);
      for (const point of metric.dataPoints) {
        assert.deepEqual(
          Object.keys(point.attributes).sort(),
          Object.keys(convention.attributes).sort(),
          name,
        );
        for (const [key, values] of Object.entries(convention.attributes)) {
          if (values === 'custom') assert.equal(typeof point.attributes[key], 'string', `${name}: ${key}`);
          else
            assert.ok(
              values.includes(String(point.attributes[key])),
              `${name}: ${key}=${String(point.attributes[key])}`,
            );
        }
      }
    }
  });

  it('report every heap space, by its name', () => {
    const spaces = getHeapSpaceStatistics().map((space) => space.space_name);
    for (const name of [
      METRIC_V8JS_MEMORY_HEAP_USED,
      METRIC_V8JS_MEMORY_HEAP_SPACE_SIZE,
      METRIC_V8JS_MEMORY_HEAP_SPACE_AVAILABLE_SIZE,
      METRIC_V8JS_MEMORY_HEAP_SPACE_PHYSICAL_SIZE,
    ]) {
      const reported = collected
        .get(name)
        ?.dataPoints.map((point) => point.attributes[ATTR_V8JS_HEAP_SPACE_NAME]);
      assert.deepEqual(reported, spaces, name);
    }
  });

  it('break CPU time, event-loop time, context switches and page faults down by every enumerated value', () => {
    for (const name of [
      METRIC_PROCESS_CPU_TIME,
      METRIC_NODEJS_EVENTLOOP_TIME,
      METRIC_PROCESS_CONTEXT_SWITCHES,
      METRIC_PROCESS_PAGING_FAULTS,
    ]) {
      const convention = conventions[name];
      const [key, values] = Object.entries(convention?.attributes ?? {})[0] ?? [];
      assert.ok(key !== undefined && values !== undefined && values !== 'custom', name);
      const reported = collected.get(name)?.dataPoints.map((point) => String(point.attributes[key]));
      assert.deepEqual(reported?.sort(), [...values].sort(), name);
    }
  });

  it('count the active resources by type, with the well-known value where one applies', async () => {
    const server = createServer().listen(0, LOOPBACK);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, LOOPBACK);
    await once(socket, 'connect');
    const points = (await metrics()).find(
      (metric) => metric.descriptor.name === METRIC_V8JS_RESOURCE_ACTIVE,
    )?.dataPoints;
    socket.destroy();
    server.close();
    const count = (type: string) =>
      points?.find((point) => point.attributes[ATTR_V8JS_RESOURCE_TYPE] === type)?.value;
    assert.ok(Number(count(V8JS_RESOURCE_TYPE_VALUE_TIMEOUT)) >= 1, 'the interval above');
    assert.ok(Number(count(V8JS_RESOURCE_TYPE_VALUE_TCPSERVERWRAP)) >= 1, 'the server');
    // Both ends of the connection; Node's own name for them, TCPSocketWrap, is not reported.
    assert.ok(Number(count(V8JS_RESOURCE_TYPE_VALUE_TCPWRAP)) >= 2, 'the connection');
    assert.equal(count('TCPSocketWrap'), undefined);
  });

  it("bucket GC pauses with the conventions' advised boundaries", () => {
    const [point] = collected.get(METRIC_V8JS_GC_DURATION)?.dataPoints ?? [];
    const value = point?.value as { buckets: { boundaries: number[] } } | undefined;
    assert.deepEqual(value?.buckets.boundaries, gcDurationBoundaries);
  });

  it('no longer emit what the conventions renamed', () => {
    /* eslint-disable @typescript-eslint/no-deprecated -- the old names, to prove they are gone */
    const renamed = [
      METRIC_V8JS_MEMORY_HEAP_LIMIT,
      METRIC_V8JS_HEAP_SPACE_AVAILABLE_SIZE,
      METRIC_V8JS_HEAP_SPACE_PHYSICAL_SIZE,
    ];
    /* eslint-enable @typescript-eslint/no-deprecated */
    for (const name of renamed) {
      assert.ok(!collected.has(name), name);
    }
  });
});
