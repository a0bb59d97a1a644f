/**
 * The stack runner's command line:
 *   npm run stack -- [up]                 install what is missing, start everything, print what runs where
 *   npm run stack -- stop                 stop everything; no process is left behind
 *   npm run stack -- status               health of each component with its address (exit 1 if any is down)
 *   npm run stack -- logs <component> [-f]   a component's own log file
 *   npm run stack -- logs --trace <trace-id>  a trace's log records across services, in time order
 *   npm run stack -- trace <trace-id>     a trace's span tree from Jaeger, with log records per span
 *   npm run stack -- trace --service <name>   the service's recent traces
 *   npm run stack -- install              install and build only
 */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { defineComponents } from './components.ts';
import { ensureInstalled } from './install.ts';
import { StackError } from './log.ts';
import { repoRoot, stateDir } from './paths.ts';
import { LOOPBACK, ports } from './ports.ts';
import { readSettings } from './settings.ts';
import { type ComponentStatus, logFile, stackStatus, startStack, stopStack } from './stack.ts';
import { countLogsBySpan, fetchTraceLogs, renderLogRecords } from './logs.ts';
import { buildSpanTree, fetchTrace, findTraces, renderSpanTree } from './trace.ts';

const componentNames: readonly string[] = defineComponents(readSettings()).map((c) => c.name);

function printStatus(statuses: ComponentStatus[]): void {
  const width = Math.max(...statuses.map((s) => s.title.length));
  for (const s of statuses) {
    const state = s.healthy ? 'healthy' : s.pid ? 'UNHEALTHY' : 'stopped';
    const links = s.links.map(([label, url]) => `${label} ${url}`).join('   ');
    process.stdout.write(`  ${s.title.padEnd(width)}  ${state.padEnd(9)}  ${links}\n`);
  }
}

interface FiringAlert {
  alertname: string;
  severity: string;
  labels: Record<string, string>;
  summary: string;
  startsAt: string;
}

type WatchdogState =
  | { status: 'ok'; lastReceivedAt: string }
  | { status: 'waiting'; since: string }
  | { status: 'missing'; reason: string; lastReceivedAt?: string };

/** Alertmanager's v2 API: what fires and is neither silenced nor inhibited. */
async function alertmanagerFiring(): Promise<FiringAlert[]> {
  const response = await fetch(
    `http://${LOOPBACK}:${ports.alertmanager}/api/v2/alerts?active=true&silenced=false&inhibited=false`,
    { signal: AbortSignal.timeout(2_000) },
  );
  const alerts = (await response.json()) as {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
  }[];
  return alerts
    .filter((alert) => alert.labels.alertname !== 'Watchdog')
    .map((alert) => ({
      alertname: alert.labels.alertname ?? 'unknown',
      severity: alert.labels.severity ?? 'none',
      labels: alert.labels,
      summary: alert.annotations.summary ?? '',
      startsAt: alert.startsAt,
    }));
}

function describeWatchdog(watchdog: WatchdogState): string {
  switch (watchdog.status) {
    case 'ok':
      return `Watchdog: received (last ${watchdog.lastReceivedAt}): Prometheus and Alertmanager deliver.`;
    case 'waiting':
      return `Watchdog: not received yet (the notifier started at ${watchdog.since}).`;
    case 'missing':
      return `Watchdog: MISSING, ${watchdog.reason}. Alerts may reach nobody: check Prometheus and Alertmanager (docs/runbooks.md#watchdog).`;
  }
}

/**
 * The alerts firing now, as delivered to the notifier by Alertmanager, and whether its Watchdog
 * arrives. With the notifier down (whose own alert would go to the notifier), Alertmanager's
 * list instead.
 */
async function printFiringAlerts(): Promise<void> {
  let firing: FiringAlert[];
  let source = '';
  try {
    const response = await fetch(`http://${LOOPBACK}:${ports.notifier}/alerts`, {
      signal: AbortSignal.timeout(2_000),
    });
    const board = (await response.json()) as { firing: FiringAlert[]; watchdog: WatchdogState };
    firing = board.firing;
    process.stdout.write(`\n${describeWatchdog(board.watchdog)}\n`);
  } catch {
    try {
      firing = await alertmanagerFiring();
      source = ', from Alertmanager: the notifier is not running and receives none of them';
    } catch {
      process.stdout.write(
        '\nAlerts: neither the notifier nor Alertmanager is running, so firing alerts cannot be shown.\n',
      );
      return;
    }
  }
  if (firing.length === 0) {
    process.stdout.write(`\nAlerts: none firing${source}.\n`);
    return;
  }
  process.stdout.write(`\nAlerts firing (${firing.length}${source}):\n`);
  for (const alert of firing) {
    const job = alert.labels.job ? ` [${alert.labels.job}]` : '';
    process.stdout.write(
      `  ${alert.severity.toUpperCase().padEnd(8)}  ${alert.alertname}${job}  ${alert.summary}  (since ${alert.startsAt})\n`,
    );
  }
}

function printNextSteps(): void {
  const prometheus = `http://${LOOPBACK}:${ports.prometheus}`;
  process.stdout.write(
    [
      '',
      `State and logs: ${relative(process.cwd(), stateDir()) || '.'}/ (logs/<component>.log)`,
      `The platform: api http://${LOOPBACK}:${ports.api} (OpenAPI at /openapi.json), the load generator drives it.`,
      'Try:',
      `  curl -s http://${LOOPBACK}:${ports.api}/portfolio`,
      `  curl -s '${prometheus}/api/v1/query?query=sum by (job) (rate(http_server_request_duration_seconds_count[1m]))'`,
      '  npm run stack -- trace --service worker         recent traces of a service',
      '  npm run stack -- trace <trace-id>              one trace as a span tree',
      '  npm run stack -- logs --trace <trace-id>       its log records, every service, in time order',
      '  npm run stack -- status | logs <component> | stop',
      'Your own services: send OTLP to 127.0.0.1:4317 (gRPC) or http://127.0.0.1:4318 (HTTP).',
      '',
    ].join('\n'),
  );
}

async function traceCommand(positionals: string[], service: string | undefined): Promise<number> {
  if (service) {
    const traces = await findTraces(service);
    if (traces.length === 0) {
      process.stdout.write(`no traces of service ${service} in the last hour\n`);
      return 1;
    }
    for (const t of traces) {
      process.stdout.write(
        `${t.traceId}  ${t.startedAt.toISOString()}  ${t.durationMs.toFixed(1).padStart(9)} ms  ${String(t.spans).padStart(3)} spans  ${t.root}\n`,
      );
    }
    return 0;
  }
  const traceId = positionals[0];
  if (!traceId) throw new StackError('usage: npm run stack -- trace <trace-id> | trace --service <name>');
  const data = await fetchTrace(traceId);
  if (!data) {
    process.stdout.write(`trace ${traceId} is not in Jaeger (yet: spans arrive within a few seconds)\n`);
    return 1;
  }
  // The tree is worth showing without VictoriaLogs; the counts are extra.
  const logCounts = await countLogsBySpan(traceId).catch((error: unknown) => {
    process.stderr.write(`(no log counts: ${error instanceof Error ? error.message : String(error)})\n`);
    return undefined;
  });
  process.stdout.write(`${renderSpanTree(traceId, buildSpanTree(data), logCounts)}\n`);
  return 0;
}

async function traceLogsCommand(traceId: string): Promise<number> {
  const records = await fetchTraceLogs(traceId);
  if (records.length === 0) {
    process.stdout.write(
      `no log records of trace ${traceId} in VictoriaLogs (yet: they arrive within seconds)\n`,
    );
    return 1;
  }
  process.stdout.write(`${renderLogRecords(records)}\n`);
  return 0;
}

async function logsCommand(
  positionals: string[],
  follow: boolean,
  traceId: string | undefined,
): Promise<number> {
  if (traceId !== undefined) return traceLogsCommand(traceId);
  const name = positionals[0];
  if (!name || !componentNames.includes(name)) {
    throw new StackError(
      `usage: npm run stack -- logs <${componentNames.join('|')}> [-f] | logs --trace <trace-id>`,
    );
  }
  const file = logFile(name);
  try {
    await access(file);
  } catch {
    throw new StackError(`no log yet for ${name} (${file}): has the stack been started?`);
  }
  const child = spawn('tail', ['-n', '200', ...(follow ? ['-F'] : []), file], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 0)));
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      follow: { type: 'boolean', short: 'f', default: false },
      service: { type: 'string', short: 's' },
      trace: { type: 'string', short: 't' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command = 'up', ...rest] = positionals;
  if (values.help || command === 'help') {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL(import.meta.url), 'utf8');
    process.stdout.write(
      `${/\/\*\*([\s\S]*?)\*\//
        .exec(source)?.[1]
        ?.replace(/^ \* ?/gm, '')
        .trim()}\n`,
    );
    return 0;
  }
  switch (command) {
    case 'up':
    case 'start': {
      const statuses = await startStack();
      process.stdout.write('\nThe stack is up:\n');
      printStatus(statuses);
      printNextSteps();
      return 0;
    }
    case 'stop':
      await stopStack();
      return 0;
    case 'status': {
      const statuses = await stackStatus();
      printStatus(statuses);
      await printFiringAlerts();
      return statuses.every((s) => s.healthy) ? 0 : 1;
    }
    case 'logs':
      return logsCommand(rest, values.follow, values.trace);
    case 'trace':
      return traceCommand(rest, values.service);
    case 'install':
      await ensureInstalled();
      return 0;
    default:
      throw new StackError(`unknown command ${JSON.stringify(command)}; run: npm run stack -- help`);
  }
}

process.chdir(repoRoot);
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof StackError) process.stderr.write(`\nerror: ${error.message}\n`);
    else
      process.stderr.write(`\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
