/**
 * PromQL shapes that recur across the dashboards. Every query keeps Grafana's variables as
 * written ($service, $__rate_interval), which index.ts's panelQueries() lists for the live test
 * to substitute.
 */

/** Grafana's rate window: at least four scrape (here: export) intervals, whatever the zoom. */
export const rateWindow = '$__rate_interval';

/** A label selector on the selected service (`job`), with more matchers if given. */
export function serviceSelector(...matchers: readonly string[]): string {
  return `{${['job=~"$service"', ...matchers].join(', ')}}`;
}

function sumBy(by: readonly string[]): string {
  return by.length === 0 ? 'sum' : `sum by (${by.join(', ')})`;
}

/** Per-second rate of a counter, summed by the given labels. */
export function sumRate(metric: string, selector: string, by: readonly string[] = []): string {
  return `${sumBy(by)} (rate(${metric}${selector}[${rateWindow}]))`;
}

/** A quantile of a histogram (its `_bucket` series), by the given labels. */
export function quantile(q: number, histogram: string, selector: string, by: readonly string[] = []): string {
  return `histogram_quantile(${q}, ${sumBy([...by, 'le'])} (rate(${histogram}_bucket${selector}[${rateWindow}])))`;
}

/**
 * `expr`, or zeros shaped like `like` when `expr` has no series. Error counters only appear
 * with the first error; without this, a healthy system would show "No data" instead of 0.
 */
export function orZero(expr: string, like: string): string {
  return `(${expr} or ${like} * 0)`;
}

/** Failed over all, as a ratio: 0 when nothing failed, no value when nothing happened. */
export function failureRatio(failed: string, all: string): string {
  return `${orZero(failed, all)} / ${all}`;
}
