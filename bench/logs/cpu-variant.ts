/**
 * One process of bench/logs/cpu.ts: libs/telemetry's logger as a service has it (initTelemetry,
 * the environment deciding what a call writes), called `--rate` times a second inside a sampled
 * span, as the api calls it for "execution requested" (message, three fields). After a warm-up,
 * the process's CPU time (every thread: the batch processor's exports over OTLP/gRPC, uncompressed
 * as by default, and GC) over `--seconds` of calls and the flush of the last batch. Writes one
 * JSON object to `--result`.
 *   node bench/logs/cpu-variant.ts --variant both --rate 5000 --seconds 8 --result /tmp/r.json
 * The variants differ only in their environment, set by cpu.ts: `idle` makes no call at all
 * (the loop, the timers and the providers alone), `line` writes the JSON line only
 * (OTEL_LOGS_EXPORTER=none), `record` the OTLP record only (TELEMETRY_LOG_STDOUT=false), `both`
 * the two (the default).
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { context, trace } from '@opentelemetry/api';
import { initTelemetry } from '../../libs/telemetry/src/index.ts';
import { type VariantResult, variants } from './variants.ts';

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    result: { type: 'string' },
  },
});
const variant = variants.find((v) => v === values.variant);
if (variant === undefined || values.result === undefined)
  throw new Error(`--variant (${variants.join(', ')}) and --result are required`);
const rate = Number(values.rate);
/** Calls are made in ticks of 10 ms, a burst each, as requests arrive in a busy service. */
const tickMillis = 10;
const perTick = Math.round((rate * tickMillis) / 1000);

const telemetry = initTelemetry({ serviceName: 'bench-logs-cpu', serviceVersion: '0.0.0' });
const { logger } = telemetry;
// A sampled request's span, as the api's handler runs in: the line and the record carry its ids.
const request = trace.setSpan(
  context.active(),
  trace.wrapSpanContext({
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
  }),
);
const executionIds = Array.from(
  { length: 1024 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);

let calls = 0;
let totalCalls = 0;
/** Runs the calls for `seconds`, tick by tick on the wall clock. */
async function run(seconds: number): Promise<void> {
  const started = performance.now();
  for (let tick = 0; tick < (seconds * 1000) / tickMillis; tick += 1) {
    if (variant !== 'idle') {
      context.with(request, () => {
        for (let i = 0; i < perTick; i += 1) {
          logger.info('execution requested', {
            executionId: executionIds[calls % executionIds.length],
            pipelineId: 'pl-momentum-btcusd',
            triggerMode: 'manual',
          });
          calls += 1;
        }
        totalCalls += perTick;
      });
    } else {
      calls += perTick;
    }
    const wait = started + (tick + 1) * tickMillis - performance.now();
    if (wait > 0) await sleep(wait);
  }
}

await run(Number(values.warmup));
// Whatever the warm-up left queued is exported before the measurement starts.
await telemetry.forceFlush();
calls = 0;
const before = process.cpuUsage();
const startedAt = performance.now();
await run(Number(values.seconds));
await telemetry.forceFlush();
const used = process.cpuUsage(before);
const result: VariantResult = {
  variant,
  calls,
  totalCalls: variant === 'idle' ? 0 : totalCalls,
  cpuMicros: used.user + used.system,
  seconds: (performance.now() - startedAt) / 1000,
  droppedRecords: telemetry.logExportStats().droppedLogRecords,
};
await telemetry.shutdown();
writeFileSync(values.result, JSON.stringify(result));
