/**
 * Where notifications go. The log channel appends one JSON line per alert to a file (what
 * `npm run stack -- logs notifier` and people read); the webhook channel, when configured,
 * forwards the payload to a chat or paging endpoint. Each delivery is counted and timed.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PlatformTelemetry } from '@tradeobs/platform';
import type { WebhookPayload } from './alerts.ts';

export interface Channel {
  name: string;
  deliver(payload: WebhookPayload): Promise<void>;
}

export function logChannel(file: string): Channel {
  return {
    name: 'log',
    async deliver(payload) {
      if (payload.alerts.length === 0) return;
      await mkdir(dirname(file), { recursive: true });
      const lines = payload.alerts.map((alert) =>
        JSON.stringify({
          time: new Date().toISOString(),
          status: alert.status,
          receiver: payload.receiver,
          alertname: alert.labels.alertname,
          severity: alert.labels.severity,
          labels: alert.labels,
          summary: alert.annotations.summary,
          description: alert.annotations.description,
          runbook_url: alert.annotations.runbook_url,
        }),
      );
      await appendFile(file, `${lines.join('\n')}\n`);
    },
  };
}

export function webhookChannel(url: string): Channel {
  return {
    name: 'webhook',
    async deliver(payload) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(5_000),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`webhook answered ${response.status}`);
    },
  };
}

/** Delivers to every channel; failures are counted and logged, and fail the whole delivery. */
export async function deliver(
  channels: readonly Channel[],
  payload: WebhookPayload,
  telemetry: PlatformTelemetry,
): Promise<boolean> {
  const { metrics, logger } = telemetry;
  let allDelivered = true;
  for (const channel of channels) {
    const startedAt = performance.now();
    let status = 'sent';
    try {
      await channel.deliver(payload);
    } catch (error) {
      status = 'failed';
      allDelivered = false;
      logger.warn('notification delivery failed', { channel: channel.name, error });
    }
    metrics.notificationDeliveryDuration.record((performance.now() - startedAt) / 1000, {
      channel: channel.name,
    });
    for (const alert of payload.alerts) {
      metrics.notificationsSent.add(1, {
        alert_type: alert.labels.alertname ?? 'unknown',
        priority: alert.labels.severity ?? 'none',
        channel: channel.name,
        status,
      });
    }
  }
  return allDelivered;
}
