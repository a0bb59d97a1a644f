/**
 * Cold start of the whole stack with everything built: `stop`, then the main command's start,
 * until every component is healthy. Rounds alternate nothing (there is one variant); the
 * median is reported in docs/benchmarks.md.
 *   node bench/cold-start/run.ts [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { ensureInstalled } from '../../infra/runner/install.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { median, replaceSection } from '../report.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);

// Builds and packages are not part of a start: make sure they are there first.
await ensureInstalled();
const seconds: number[] = [];
for (let round = 0; round < rounds; round += 1) {
  await stopStack();
  const startedAt = performance.now();
  await startStack();
  seconds.push((performance.now() - startedAt) / 1000);
  const unhealthy = (await stackStatus()).filter((s) => !s.healthy).map((s) => s.name);
  if (unhealthy.length > 0) throw new Error(`not healthy after start: ${unhealthy.join(', ')}`);
  process.stderr.write(`round ${round + 1}/${rounds}: ${seconds.at(-1)?.toFixed(1)} s\n`);
}
await stopStack();

replaceSection(
  '## Cold start',
  `## Cold start

\`stop\`, then the start of the main command with everything built and installed, until every component (NATS,
Prometheus, Alertmanager, Jaeger, the collector, the four services, the notifier and the load generator) answers its
health check. Target: under 15 s.

Reproduce: \`node bench/cold-start/run.ts --rounds ${rounds}\`

| rounds | median | fastest | slowest |
|---:|---:|---:|---:|
| ${rounds} | ${median(seconds).toFixed(1)} s | ${Math.min(...seconds).toFixed(1)} s | ${Math.max(...seconds).toFixed(1)} s |
`,
);
