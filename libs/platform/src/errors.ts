/**
 * A bounded vocabulary for error labels: metrics say what kind of failure happened, from a
 * fixed set, never an arbitrary error name or message (which would grow series without bound).
 * The fixed set also lets every failure series exist, at zero, from start-up.
 */
export const failureKinds = ['timeout', 'no_responders', 'connection', 'rejected', 'other'] as const;
export type FailureKind = (typeof failureKinds)[number];

export function failureKind(error: unknown): FailureKind {
  if (!(error instanceof Error)) return 'other';
  switch (error.name) {
    case 'TimeoutError':
      return 'timeout';
    // nats-core names it NoResponders; JetStream says JetStreamNotEnabled when no server of it answers.
    case 'NoResponders':
    case 'JetStreamNotEnabled':
      return 'no_responders';
    // A failed request says why in its cause (no responders, mostly).
    case 'RequestError':
      return failureKind(error.cause);
    case 'ClosedConnectionError':
    case 'DrainingConnectionError':
    case 'ConnectionError':
      return 'connection';
    case 'JetStreamApiError':
    case 'PermissionViolationError':
      return 'rejected';
    default:
      return 'other';
  }
}
