/**
 * A service's own settings (telemetry has its own contract in @tradeobs/telemetry). Read once
 * at start-up; a wrong value stops the service with an error naming the variable and what it
 * accepts.
 */
export class ServiceConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid service configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
    this.name = 'ServiceConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export class SettingsReader {
  readonly #env: Env;
  readonly #problems: string[] = [];

  constructor(env: Env) {
    this.#env = env;
  }

  string(name: string, fallback: string): string {
    const value = this.#env[name]?.trim();
    return value ? value : fallback;
  }

  number(name: string, fallback: number, bounds: { min: number; max: number; integer?: boolean }): number {
    const raw = this.#env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    const kind = bounds.integer ? 'an integer' : 'a number';
    if (
      !Number.isFinite(value) ||
      (bounds.integer && !Number.isInteger(value)) ||
      value < bounds.min ||
      value > bounds.max
    ) {
      this.#problems.push(`${name}=${raw}: expected ${kind} from ${bounds.min} to ${bounds.max}`);
      return fallback;
    }
    return value;
  }

  oneOf<const T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.#env[name]?.trim();
    if (!raw) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.#problems.push(`${name}=${raw}: expected one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  list<const T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
    const raw = this.#env[name]?.trim();
    if (!raw) return [...fallback];
    const values = raw.split(',').map((value) => value.trim());
    const unknown = values.filter((value) => !(allowed as readonly string[]).includes(value));
    if (unknown.length > 0) {
      this.#problems.push(`${name}: unknown ${unknown.join(', ')}; expected some of ${allowed.join(', ')}`);
      return [...fallback];
    }
    return values as T[];
  }

  /** Throws one error listing every problem found so far. */
  check(): void {
    if (this.#problems.length > 0) throw new ServiceConfigError(this.#problems);
  }
}
