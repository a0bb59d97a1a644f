/**
 * notifier: Alertmanager's webhook receiver. It delivers each notification to its channels
 * (a JSON-lines log, and a chat webhook if NOTIFIER_WEBHOOK_URL is set) and serves the alerts
 * firing now at GET /alerts, which `npm run stack -- status` shows. It needs nothing but
 * telemetry, so that alerts about NATS or the other services still reach people.
 */
import { serve } from '@hono/node-server';
import { errorResponse, serviceApp, SettingsReader, validate } from '@tradeobs/platform';
import { initPlatformTelemetry } from '@tradeobs/platform';
import { AlertBoard, WebhookPayload } from './alerts.ts';
import { type Channel, deliver, logChannel, webhookChannel } from './channels.ts';

const settings = new SettingsReader(process.env);
const port = settings.number('PORT', 8006, { min: 1, max: 65535, integer: true });
const logFile = settings.string('NOTIFIER_LOG_FILE', 'notifications.jsonl');
const webhookUrl = settings.string('NOTIFIER_WEBHOOK_URL', '');
const host = settings.string('HOST', '127.0.0.1');
settings.check();

const telemetry = initPlatformTelemetry({ serviceName: 'notifier', serviceVersion: '0.1.0' });
const channels: Channel[] = [logChannel(logFile), ...(webhookUrl ? [webhookChannel(webhookUrl)] : [])];
const board = new AlertBoard();

// Routes are given to the shell, not added after: it answers 405 and OPTIONS from them.
const app = serviceApp(telemetry, (routes) => {
  routes.get('/health', (c) => c.json({ status: 'ok', service: 'notifier' }));
  routes.get('/ready', (c) => c.json({ status: 'ready', channels: channels.map((channel) => channel.name) }));
  routes.get('/alerts', (c) => c.json({ firing: board.firing() }));
  routes.post('/alertmanager', validate('json', WebhookPayload), async (c) => {
    const payload = c.req.valid('json');
    board.apply(payload);
    telemetry.logger.info('notification', {
      status: payload.status,
      alerts: payload.alerts.length,
      receiver: payload.receiver,
    });
    // A 5xx makes Alertmanager retry the notification: nothing is lost to a failed channel.
    if (!(await deliver(channels, payload, telemetry)))
      return errorResponse(c, 502, 'delivery_failed', 'a channel failed; retry');
    return c.json({ delivered: payload.alerts.length });
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
