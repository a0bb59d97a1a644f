/**
 * Resident memory of each platform service with telemetry on and with OTEL_SDK_DISABLED=true,
 * under the load generator's default traffic, measured side by side: the modes alternate over
 * the rounds, each on a fresh stack state, and each service's RSS is sampled over the last
 * half of the load window.
 *   node bench/memory/run.ts [--rounds 2] [--seconds 120]
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { rssMegabytes } from '../measure.ts';
import { median, replaceSection } from '../report.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '2' }, seconds: { type: 'string', default: '120' } },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const services = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'] as const;
type Mode = 'telemetry on' | 'OTEL_SDK_DISABLED=true';
const modes: readonly Mode[] = ['telemetry on', 'OTEL_SDK_DISABLED=true'];

async function measure(mode: Mode): Promise<Map<string, number>> {
  process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'bench-memory-'));
  if (mode === 'OTEL_SDK_DISABLED=true') process.env.OTEL_SDK_DISABLED = 'true';
  else delete process.env.OTEL_SDK_DISABLED;
  await startStack();
  const pids = new Map((await stackStatus()).map((s) => [s.name, s.pid]));
  const samples = new Map<string, number[]>(services.map((service) => [service, []]));
  // The first half warms up (JIT, caches, buffers); the second half is what counts.
  await sleep((seconds / 2) * 1000);
  for (let elapsed = 0; elapsed < seconds / 2; elapsed += 5) {
    for (const service of services) {
      const pid = pids.get(service);
      if (pid !== undefined) samples.get(service)?.push(await rssMegabytes(pid));
    }
    await sleep(5_000);
  }
  await stopStack();
  return new Map([...samples].map(([service, values]) => [service, median(values)]));
}

await stopStack();
const results = new Map<Mode, Map<string, number>[]>(modes.map((mode) => [mode, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
    const rss = await measure(mode);
    results.get(mode)?.push(rss);
    process.stderr.write(
      `round ${round + 1}/${rounds} ${mode}: ${[...rss].map(([s, mb]) => `${s} ${mb.toFixed(1)} MB`).join(', ')}\n`,
    );
  }
}
delete process.env.OTEL_SDK_DISABLED;

const rssOf = (mode: Mode, service: string) =>
  median((results.get(mode) ?? []).map((round) => round.get(service) ?? 0));
const rows = services.map((service) => {
  const on = rssOf('telemetry on', service);
  const off = rssOf('OTEL_SDK_DISABLED=true', service);
  return `| ${service} | ${on.toFixed(1)} MB | ${off.toFixed(1)} MB | ${(on - off).toFixed(1)} MB |`;
});

replaceSection(
  '## Memory per service',
  `## Memory per service

Resident memory (VmRSS, median of 5 s samples over the second half of a ${seconds} s window) of each service under the
load generator's default traffic (5 scenarios/s), with telemetry on and with \`OTEL_SDK_DISABLED=true\`, each on a
fresh stack; ${rounds} rounds, modes alternating. Target: at most 20 MB more with telemetry on (seed 000's figure).

Reproduce: \`node bench/memory/run.ts --rounds ${rounds} --seconds ${seconds}\` (stops a running stack first)

| service | telemetry on | OTEL_SDK_DISABLED=true | difference |
|---|---:|---:|---:|
${rows.join('\n')}
`,
);
