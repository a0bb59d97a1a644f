/**
 * Alertmanager's webhook payload (version 4), and the notifier's view of it: which alerts are
 * firing now, keyed by fingerprint, updated by every notification.
 */
import { z } from 'zod';

export const WebhookAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string(),
  endsAt: z.string().optional(),
  fingerprint: z.string().min(1),
});
export type WebhookAlert = z.infer<typeof WebhookAlert>;

export const WebhookPayload = z.object({
  version: z.literal('4'),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  alerts: z.array(WebhookAlert).max(1000),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

export interface FiringAlert {
  alertname: string;
  severity: string;
  labels: Record<string, string>;
  summary: string;
  startsAt: string;
  receiver: string;
}

export class AlertBoard {
  readonly #firing = new Map<string, FiringAlert>();

  apply(payload: WebhookPayload): void {
    for (const alert of payload.alerts) {
      if (alert.status === 'resolved') {
        this.#firing.delete(alert.fingerprint);
        continue;
      }
      this.#firing.set(alert.fingerprint, {
        alertname: alert.labels.alertname ?? 'unknown',
        severity: alert.labels.severity ?? 'none',
        labels: alert.labels,
        summary: alert.annotations.summary ?? '',
        startsAt: alert.startsAt,
        receiver: payload.receiver,
      });
    }
  }

  firing(): FiringAlert[] {
    return [...this.#firing.values()].sort((a, b) => a.startsAt.localeCompare(b.startsAt));
  }
}
