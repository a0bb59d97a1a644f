/**
 * Signal pipeline: signals per second through trigger-dispatcher and worker, and the latency
 * from a signal's generation to its execution's end, with tracing on, with 10% of the signals
 * traced, and with tracing off (`OTEL_TRACES_EXPORTER=none` for every service), side by side
 * over rounds in rotating order.
 *   node bench/signal-pipeline/run.ts [--rounds 2] [--burst 3000] [--paced-rate 10] [--paced-seconds 30]
 *
 * How the signals are made and measured: measure.ts.
 * - Throughput: a burst of signals published as fast as JetStream takes them; signals per
 *   second = the burst over the time until both consumers have nothing pending.
 * - Latency: signals at a steady rate well below the throughput; p50/p95 of execution end
 *   minus signal generation.
 */
import { cpus } from 'node:os';
import { readSettings } from '../../infra/runner/settings.ts';
import { stopStack } from '../../infra/runner/stack.ts';
import { median, replaceSection, rotation } from '../report.ts';
import { measure, type Result, roundsAndLoadFromArgs } from './measure.ts';

const { rounds, load } = roundsAndLoadFromArgs();
const { burst, pacedRate, pacedSeconds } = load;
type Mode = 'tracing on' | 'tracing 10%' | 'tracing off';
const modes: readonly Mode[] = ['tracing on', 'tracing 10%', 'tracing off'];
/** Each mode's environment, for the services and for this script's own telemetry alike. */
const modeEnv: Record<Mode, Record<string, string>> = {
  'tracing on': {},
  // The signal's root span decides, and every service follows it.
  'tracing 10%': { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'tracing off': { OTEL_TRACES_EXPORTER: 'none' },
};
await stopStack();
const results = new Map<Mode, Result[]>(modes.map((mode) => [mode, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const mode of rotation(modes, round)) {
    const result = await measure(
      { tag: mode.replace(/\W+/g, ''), settings: readSettings(), env: modeEnv[mode] },
      round,
      load,
    );
    results.get(mode)?.push(result);
    process.stderr.write(`round ${round + 1}/${rounds} ${mode}: ${JSON.stringify(result)}\n`);
  }
}

const summary = (mode: Mode) => {
  const list = results.get(mode) ?? [];
  return {
    rate: median(list.map((r) => r.signalsPerSecond)),
    executed: median(list.map((r) => r.executed)),
    skipped: median(list.map((r) => r.skipped)),
    p50: median(list.map((r) => r.p50Millis)),
    p95: median(list.map((r) => r.p95Millis)),
    cpu: Object.fromEntries(
      Object.keys(list[0]?.burstCpu ?? {}).map((name) => [
        name,
        median(list.map((r) => r.burstCpu[name] ?? 0)),
      ]),
    ),
  };
};
const on = summary('tracing on');
const tenth = summary('tracing 10%');
const off = summary('tracing off');
const busiest = Object.entries(on.cpu)
  .sort(([, a], [, b]) => b - a)
  .slice(0, 6)
  .map(([name]) => name);
const cpuRow = (mode: Mode, s: ReturnType<typeof summary>) =>
  `| ${mode} | ${busiest.map((name) => `${((s.cpu[name] ?? 0) * 100).toFixed(0)}%`).join(' | ')} |`;
const row = (mode: Mode, s: ReturnType<typeof summary>) =>
  `| ${mode} | ${s.rate.toFixed(0)} | ${s.executed} | ${s.skipped} | ${s.p50.toFixed(0)} ms | ${s.p95.toFixed(0)} ms |`;

replaceSection(
  '## Signal pipeline',
  `## Signal pipeline

Signals through trigger-dispatcher and worker (with api, signal generator, NATS and the whole telemetry pipeline
running), tracing on (every signal a trace: publish, dispatch, enqueue, execution and its steps), 10% of the signals
traced (\`OTEL_TRACES_SAMPLER=parentbased_traceidratio\`, \`OTEL_TRACES_SAMPLER_ARG=0.1\`) and tracing off
(\`OTEL_TRACES_EXPORTER=none\`), each on a fresh stack, ${rounds} rounds in rotating order; medians. Throughput: a burst of
${burst} signals, over the time until both consumers have nothing pending. Latency: ${pacedRate} signals/s for ${pacedSeconds} s, execution
end minus signal generation. The script publishes the signals as the signal generator does (see bench/signal-pipeline/run.ts
for why); each triggers one execution unless its pipeline is still running one (then it is skipped, by design).

Reproduce: \`node bench/signal-pipeline/run.ts --rounds ${rounds} --burst ${burst} --paced-rate ${pacedRate} --paced-seconds ${pacedSeconds}\` (stops a running stack first)

| mode | signals/s (burst) | executed | skipped (pipeline running) | p50 signal → execution | p95 signal → execution |
|---|---:|---:|---:|---:|---:|
${row('tracing on', on)}
${row('tracing 10%', tenth)}
${row('tracing off', off)}

Tracing every signal keeps **${((on.rate / off.rate) * 100).toFixed(0)}%** of the untraced throughput, tracing 10% of them
**${((tenth.rate / off.rate) * 100).toFixed(0)}%** (target: at least 90%).

CPU during the burst (100% = one of the ${cpus().length} cores), the busiest processes:

| mode | ${busiest.join(' | ')} |
|---|${busiest.map(() => '---:').join('|')}|
${cpuRow('tracing on', on)}
${cpuRow('tracing 10%', tenth)}
${cpuRow('tracing off', off)}
`,
);
