/**
 * Alertmanager's webhook payload (version 4), and the notifier's view of it: which alerts are
 * firing now, keyed by fingerprint, updated by every notification; and whether the Watchdog
 * (infra/prometheus/rules/alerting.yml), which always fires, keeps arriving.
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

/** The alert that proves the path from Prometheus through Alertmanager to here works. */
export const watchdogAlertName = 'Watchdog';

export type WatchdogState =
  /** It arrived within the timeout. */
  | { status: 'ok'; lastReceivedAt: string }
  /** Not yet: the notifier started less than a timeout ago. */
  | { status: 'waiting'; since: string }
  | { status: 'missing'; reason: string; lastReceivedAt?: string };

export class AlertBoard {
  readonly #firing = new Map<string, FiringAlert>();
  readonly #watchdogTimeoutMillis: number;
  readonly #now: () => number;
  readonly #startedAt: number;
  #watchdogReceivedAt: number | undefined;
  #watchdogResolved = false;

  /**
   * `watchdogTimeoutMillis`: how long without a Watchdog notification means the path is broken;
   * Alertmanager sends it every 30 s or so (infra/alertmanager/alertmanager.yml).
   */
  constructor(options: { watchdogTimeoutMillis: number; now?: () => number }) {
    this.#watchdogTimeoutMillis = options.watchdogTimeoutMillis;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  apply(payload: WebhookPayload): void {
    for (const alert of payload.alerts) {
      if (alert.labels.alertname === watchdogAlertName) {
        // Resolved: Alertmanager stopped hearing of it from Prometheus (its end time passed).
        this.#watchdogReceivedAt = this.#now();
        this.#watchdogResolved = alert.status === 'resolved';
        continue;
      }
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

  watchdog(): WatchdogState {
    const iso = (millis: number) => new Date(millis).toISOString();
    const received = this.#watchdogReceivedAt;
    if (received === undefined) {
      return this.#now() - this.#startedAt < this.#watchdogTimeoutMillis
        ? { status: 'waiting', since: iso(this.#startedAt) }
        : {
            status: 'missing',
            reason: `no Watchdog notification since the notifier started ${this.#secondsAgo(this.#startedAt)} s ago`,
          };
    }
    if (this.#watchdogResolved)
      return {
        status: 'missing',
        reason: 'Alertmanager resolved the Watchdog: Prometheus stopped sending it',
        lastReceivedAt: iso(received),
      };
    if (this.#now() - received > this.#watchdogTimeoutMillis)
      return {
        status: 'missing',
        reason: `no Watchdog notification for ${this.#secondsAgo(received)} s`,
        lastReceivedAt: iso(received),
      };
    return { status: 'ok', lastReceivedAt: iso(received) };
  }

  #secondsAgo(millis: number): number {
    return Math.round((this.#now() - millis) / 1000);
  }

  firing(): FiringAlert[] {
    return [...this.#firing.values()].sort((a, b) => a.startsAt.localeCompare(b.startsAt));
  }
}
