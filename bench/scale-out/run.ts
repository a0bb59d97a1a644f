/**
 * Scale-out: the signal pipeline's throughput and signal-to-execution latency on one NATS node
 * against a three-node JetStream cluster (every stream and bucket on three nodes), with one
 * instance of worker and trigger-dispatcher against two of each, side by side over rounds in
 * rotating order, each on a fresh stack, tracing on as the stack runs by default.
 *   node bench/scale-out/run.ts [--rounds 2] [--burst 3000] [--paced-rate 10] [--paced-seconds 30]
 *
 * The measurement is the signal pipeline's (bench/signal-pipeline/measure.ts): a burst for
 * signals per second, a steady rate for p50/p95 from generation to the execution's end.
 */
import { cpus } from 'node:os';
import { defineComponents } from '../../infra/runner/components.ts';
import { natsServerVersion } from '../../infra/runner/install.ts';
import { readSettings, type StackSettings } from '../../infra/runner/settings.ts';
import { stopStack } from '../../infra/runner/stack.ts';
import { median, replaceSection, rotation } from '../report.ts';
import { measure, type Result, roundsAndLoadFromArgs } from '../signal-pipeline/measure.ts';

const { rounds, load } = roundsAndLoadFromArgs();

interface Topology {
  name: string;
  tag: string;
  nodes: number;
  instances: number;
}
const topologies: readonly Topology[] = [
  { name: '1 node, 1 instance each', tag: 'n1i1', nodes: 1, instances: 1 },
  { name: '1 node, 2 instances each', tag: 'n1i2', nodes: 1, instances: 2 },
  { name: '3 nodes, 1 instance each', tag: 'n3i1', nodes: 3, instances: 1 },
  { name: '3 nodes, 2 instances each', tag: 'n3i2', nodes: 3, instances: 2 },
];
const settingsOf = (topology: Topology): StackSettings => ({
  ...readSettings(),
  natsCluster: topology.nodes,
  workerInstances: topology.instances,
  triggerDispatcherInstances: topology.instances,
});

await stopStack();
const results = new Map<string, Result[]>(topologies.map((t) => [t.name, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const topology of rotation(topologies, round)) {
    const result = await measure({ tag: topology.tag, settings: settingsOf(topology), env: {} }, round, load);
    results.get(topology.name)?.push(result);
    process.stderr.write(`round ${round + 1}/${rounds} ${topology.name}: ${JSON.stringify(result)}\n`);
  }
}

/** A process's CPU under its group's name (the runner's): the instances of one service, the nodes of NATS. */
const groupOf = new Map(
  topologies.flatMap((t) => defineComponents(settingsOf(t)).map((c): [string, string] => [c.name, c.group])),
);
const summary = (topology: Topology) => {
  const list = results.get(topology.name) ?? [];
  const cpuByGroup = (result: Result) => {
    const groups: Record<string, number> = {};
    for (const [name, cores] of Object.entries(result.burstCpu)) {
      const group = groupOf.get(name) ?? name;
      groups[group] = (groups[group] ?? 0) + cores;
    }
    return groups;
  };
  const cpus = list.map(cpuByGroup);
  return {
    rate: median(list.map((r) => r.signalsPerSecond)),
    executed: median(list.map((r) => r.executed)),
    p50: median(list.map((r) => r.p50Millis)),
    p95: median(list.map((r) => r.p95Millis)),
    cpu: Object.fromEntries(
      Object.keys(cpus[0] ?? {}).map((group) => [group, median(cpus.map((c) => c[group] ?? 0))]),
    ),
    total: median(cpus.map((c) => Object.values(c).reduce((a, b) => a + b, 0))),
  };
};
const summaries = new Map(topologies.map((t) => [t.name, summary(t)]));
const baseline = summaries.get(topologies[0]?.name ?? '') as ReturnType<typeof summary>;
const groups = ['trigger-dispatcher', 'worker', 'nats', 'this script', 'collector', 'api'];
const percent = (cores: number) => `${(cores * 100).toFixed(0)}%`;

replaceSection(
  '## Scale-out',
  `## Scale-out

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, nats-server ${natsServerVersion}.
The signal pipeline (see Signal pipeline above for the method) on one NATS node and on a three-node JetStream cluster
(\`NATS_CLUSTER=3\`: every stream and bucket with 3 replicas), with one instance of worker and trigger-dispatcher and
with two of each (\`WORKER_INSTANCES=2\`, \`TRIGGER_DISPATCHER_INSTANCES=2\`, sharing their durable consumers), each on a
fresh stack with tracing on, ${rounds} rounds in rotating order; medians. Burst of ${load.burst} signals; latency at
${load.pacedRate} signals/s for ${load.pacedSeconds} s.

Reproduce: \`node bench/scale-out/run.ts --rounds ${rounds} --burst ${load.burst} --paced-rate ${load.pacedRate} --paced-seconds ${load.pacedSeconds}\` (stops a running stack first)

| topology | signals/s (burst) | vs 1 node, 1 instance | executed | p50 signal → execution | p95 signal → execution |
|---|---:|---:|---:|---:|---:|
${topologies
  .map((t) => {
    const s = summaries.get(t.name) as ReturnType<typeof summary>;
    return `| ${t.name} | ${s.rate.toFixed(0)} | ${((s.rate / baseline.rate) * 100).toFixed(0)}% | ${s.executed} | ${s.p50.toFixed(0)} ms | ${s.p95.toFixed(0)} ms |`;
  })
  .join('\n')}

CPU during the burst (100% = one of the ${cpus().length} cores; the instances of a service and the nodes of NATS added up):

| topology | ${groups.join(' | ')} | all processes |
|---|${groups.map(() => '---:').join('|')}|---:|
${topologies
  .map((t) => {
    const s = summaries.get(t.name) as ReturnType<typeof summary>;
    return `| ${t.name} | ${groups.map((g) => percent(s.cpu[g] ?? 0)).join(' | ')} | ${percent(s.total)} |`;
  })
  .join('\n')}
`,
);
