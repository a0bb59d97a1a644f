/**
 * The `ml_direction` model: logistic regression predicting whether the next price move is up,
 * from the last few returns. It is retrained on a sliding window, scored on the outcomes it
 * predicted (accuracy), and compares recent inputs with its training inputs (drift).
 */
const features = 3;

export interface TrainingReport {
  samples: number;
  seconds: number;
}

function returns(prices: readonly number[]): number[] {
  const result: number[] = [];
  for (let i = 1; i < prices.length; i += 1) result.push(Math.log((prices[i] ?? 1) / (prices[i - 1] ?? 1)));
  return result;
}

/** Features at position `end` of a return series: the last three returns, scaled. */
function featureVector(series: readonly number[], end: number): number[] {
  const vector: number[] = [];
  for (let lag = 0; lag < features; lag += 1) vector.push((series[end - lag] ?? 0) * 1000);
  return vector;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Population stability index of `recent` against `reference` over reference quantile bins,
 * mapped to 0..1 (0 = same distribution). PSI above 0.25 is the usual "significant shift".
 */
export function driftScore(reference: readonly number[], recent: readonly number[], bins = 10): number {
  if (reference.length < bins * 2 || recent.length < bins) return 0;
  const sorted = [...reference].sort((a, b) => a - b);
  const edges = Array.from(
    { length: bins - 1 },
    (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / bins)] ?? 0,
  );
  const shares = (values: readonly number[]) => {
    const counts = new Array<number>(bins).fill(0);
    for (const value of values) {
      let bin = edges.findIndex((edge) => value < edge);
      if (bin < 0) bin = bins - 1;
      counts[bin] = (counts[bin] ?? 0) + 1;
    }
    return counts.map((count) => Math.max(count / values.length, 1e-4));
  };
  const expected = shares(reference);
  const actual = shares(recent);
  let psi = 0;
  for (let i = 0; i < bins; i += 1) {
    const a = actual[i] ?? 1e-4;
    const e = expected[i] ?? 1e-4;
    psi += (a - e) * Math.log(a / e);
  }
  return 1 - Math.exp(-psi);
}

export class DirectionModel {
  #weights = new Array<number>(features + 1).fill(0);
  #trained = false;
  #trainingReturns: number[] = [];
  /** Outcomes of the latest predictions: 1 right, 0 wrong. */
  readonly #outcomes: number[] = [];
  readonly #pending = new Map<string, { up: boolean; price: number }>();

  get trained(): boolean {
    return this.#trained;
  }

  /** Batch gradient descent on every (features, next move up?) pair of every price window. */
  train(windows: readonly (readonly number[])[], epochs = 300, rate = 0.1): TrainingReport {
    const startedAt = performance.now();
    const samples: { x: number[]; target: number }[] = [];
    const pooledReturns: number[] = [];
    for (const prices of windows) {
      const series = returns(prices);
      pooledReturns.push(...series);
      for (let end = features - 1; end < series.length - 1; end += 1) {
        samples.push({ x: [1, ...featureVector(series, end)], target: (series[end + 1] ?? 0) > 0 ? 1 : 0 });
      }
    }
    const weights = new Array<number>(features + 1).fill(0);
    for (let epoch = 0; epoch < epochs && samples.length > 0; epoch += 1) {
      const gradient = new Array<number>(features + 1).fill(0);
      for (const { x, target } of samples) {
        const error = sigmoid(x.reduce((sum, value, i) => sum + value * (weights[i] ?? 0), 0)) - target;
        for (let i = 0; i < x.length; i += 1) gradient[i] = (gradient[i] ?? 0) + error * (x[i] ?? 0);
      }
      for (let i = 0; i < weights.length; i += 1)
        weights[i] = (weights[i] ?? 0) - (rate * (gradient[i] ?? 0)) / samples.length;
    }
    this.#weights = weights;
    this.#trainingReturns = pooledReturns;
    this.#trained = samples.length > 0;
    return { samples: samples.length, seconds: (performance.now() - startedAt) / 1000 };
  }

  /** Probability that the next move is up. */
  predictUp(prices: readonly number[]): number {
    const series = returns(prices.slice(-(features + 1)));
    const x = [1, ...featureVector(series, series.length - 1)];
    return sigmoid(x.reduce((sum, value, i) => sum + value * (this.#weights[i] ?? 0), 0));
  }

  /** Scores the previous prediction for `key` against the new price, then remembers this one. */
  score(key: string, price: number, probabilityUp: number, window = 200): void {
    const previous = this.#pending.get(key);
    if (previous && price !== previous.price) {
      this.#outcomes.push(price > previous.price === previous.up ? 1 : 0);
      if (this.#outcomes.length > window) this.#outcomes.shift();
    }
    this.#pending.set(key, { up: probabilityUp > 0.5, price });
  }

  /** Share of scored predictions that were right, or undefined before any. */
  accuracy(): number | undefined {
    if (this.#outcomes.length === 0) return undefined;
    return this.#outcomes.reduce((sum, value) => sum + value, 0) / this.#outcomes.length;
  }

  /** Drift of recent returns (pooled over the windows) against those the model was trained on. */
  drift(recentWindows: readonly (readonly number[])[]): number {
    return driftScore(
      this.#trainingReturns,
      recentWindows.flatMap((prices) => returns(prices)),
    );
  }
}
