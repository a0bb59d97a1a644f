/**
 * notifier: Alertmanager's webhook receiver. It delivers each notification to its channels
 * (a JSON-lines log, and a chat webhook if NOTIFIER_WEBHOOK_URL is set) and serves the alerts
 * firing now at GET /alerts, with whether the Watchdog keeps arriving, which
 * `npm run stack -- status` shows. It needs nothing but telemetry, so that alerts about NATS
 * or the other services still reach people.
 */
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { errorResponse, serviceApp, SettingsReader, validate } from '@tradeobs/platform';
import { initPlatformTelemetry } from '@tradeobs/platform';
import { AlertBoard, WebhookPayload, watchdogAlertName } from './alerts.ts';
import { type Channel, deliver, logChannel, webhookChannel } from './channels.ts';
import { runbooksPage } from './runbooks.ts';

const settings = new SettingsReader(process.env);
const port = settings.number('PORT', 8006, { min: 1, max: 65535, integer: true });
const logFile = settings.string('NOTIFIER_LOG_FILE', 'notifications.jsonl');
const webhookUrl = settings.string('NOTIFIER_WEBHOOK_URL', '');
// Served at /runbooks, the default target of the alerts' runbook_url.
const runbooksFile = settings.string(
  'NOTIFIER_RUNBOOKS_FILE',
  fileURLToPath(new URL('../../../docs/runbooks.md', import.meta.url)),
);
const host = settings.string('HOST', '127.0.0.1');
// Four Watchdog notifications missed (Alertmanager re-sends it every 30 s or so).
const watchdogTimeoutSeconds = settings.number('NOTIFIER_WATCHDOG_TIMEOUT_SECONDS', 120, {
  min: 10,
  max: 86_400,
});
settings.check();

const telemetry = initPlatformTelemetry({ serviceName: 'notifier', serviceVersion: '0.1.0' });
const channels: Channel[] = [logChannel(logFile), ...(webhookUrl ? [webhookChannel(webhookUrl)] : [])];
const board = new AlertBoard({ watchdogTimeoutMillis: watchdogTimeoutSeconds * 1000 });

// Routes are given to the shell, not added after: it answers 405 and OPTIONS from them.
const app = serviceApp(telemetry, (routes) => {
  routes.get('/health', (c) => c.json({ status: 'ok', service: 'notifier' }));
  routes.get('/ready', (c) => c.json({ status: 'ready', channels: channels.map((channel) => channel.name) }));
  routes.get('/alerts', (c) => c.json({ firing: board.firing(), watchdog: board.watchdog() }));
  routes.get('/runbooks', async (c) => {
    const page = await runbooksPage(runbooksFile).catch((error: unknown) => {
      telemetry.logger.warn('runbooks unreadable', { file: runbooksFile, error });
      return undefined;
    });
    return page === undefined
      ? errorResponse(c, 404, 'runbooks_missing', `cannot read ${runbooksFile} (NOTIFIER_RUNBOOKS_FILE)`)
      : c.html(page);
  });
  routes.post('/alertmanager', validate('json', WebhookPayload), async (c) => {
    const payload = c.req.valid('json');
    board.apply(payload);
    // The Watchdog is for the notifier itself: it says the path works, not that anything is wrong.
    const alerts = payload.alerts.filter((alert) => alert.labels.alertname !== watchdogAlertName);
    if (alerts.length === 0) return c.json({ delivered: 0 });
    telemetry.logger.info('notification', {
      status: payload.status,
      alerts: alerts.length,
      receiver: payload.receiver,
    });
    // A 5xx makes Alertmanager retry the notification: nothing is lost to a failed channel.
    if (!(await deliver(channels, { ...payload, alerts }, telemetry)))
      return errorResponse(c, 502, 'delivery_failed', 'a channel failed; retry');
    return c.json({ delivered: alerts.length });
  });
});

const server = serve({ fetch: app.fetch, port, hostname: host });
telemetry.logger.info('listening', { port, channels: channels.map((channel) => channel.name) });
const stop = () => {
  server.close();
  void telemetry.shutdown().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
