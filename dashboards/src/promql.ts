/**
 * PromQL shapes that recur across the dashboards. Every query keeps Grafana's variables as
 * written ($service, $instance, $__rate_interval), which index.ts's panelQueries() lists for the
 * live test to substitute.
 */

/** Grafana's rate window: at least four scrape (here: export) intervals, whatever the zoom. */
export const rateWindow = '$__rate_interval';

/**
 * A label selector on the selected service (`job`) and its selected processes (`instance`, the
 * service.instance.id, `.*` for All), with more matchers if given.
 */
export function serviceSelector(...matchers: readonly string[]): string {
  return `{${['job=~"$service"', 'instance=~"$instance"', ...matchers].join(', ')}}`;
}

/**
 * A selector on the selected service only, for series that have no instance: the SLO recording
 * rules aggregate the instances away, so an instance matcher would only hide them.
 */
export function jobSelector(...matchers: readonly string[]): string {
  return `{${['job=~"$service"', ...matchers].join(', ')}}`;
}

function aggregate(operator: 'sum' | 'max', by: readonly string[]): string {
  return by.length === 0 ? operator : `${operator} by (${by.join(', ')})`;
}

/** Per-second rate of a counter, summed by the given labels. */
export function sumRate(metric: string, selector: string, by: readonly string[] = []): string {
  return `${aggregate('sum', by)} (rate(${metric}${selector}[${rateWindow}]))`;
}

/**
 * A gauge that every instance of a service reports alike because it is one shared value (the
 * portfolio and the bots in NATS KV, the pipelines every dispatcher mirrors): the instances'
 * series are copies, not parts of a whole. `max` of them, never `sum`, which doubles the value
 * with two instances, and also for the 5 minutes after a restart, while the old instance's last
 * sample is still within Prometheus' lookback (instance ids are new at every start).
 */
export function shared(metric: string, selector: string, by: readonly string[] = []): string {
  return `${aggregate('max', by)} (${metric}${selector})`;
}

/** A quantile of a histogram (its `_bucket` series), by the given labels. */
export function quantile(q: number, histogram: string, selector: string, by: readonly string[] = []): string {
  return `histogram_quantile(${q}, ${aggregate('sum', [...by, 'le'])} (rate(${histogram}_bucket${selector}[${rateWindow}])))`;
}

/**
 * `expr`, or zeros shaped like `like` when `expr` has no series at all. Error counters only
 * appear with the first error; without this, a healthy system would show "No data" instead of 0.
 *
 * `or on ()` adds the zeros only when `expr` is empty: a plain `or` matches on every label, so
 * once `expr` has series with labels that `like` lacks (a reason, an error type), each of like's
 * series would be added beside them as a zero with a blank legend. `absent` names those labels:
 * the zeros get them as "none", so that a legend such as `{{reason}}` reads "none", not "".
 */
export function orZero(expr: string, like: string, absent: readonly string[] = []): string {
  const zeros = absent.reduce(
    (zero, label) => `label_replace(${zero}, "${label}", "none", "", "")`,
    `${like} * 0`,
  );
  return `(${expr} or on () ${zeros})`;
}

/**
 * Failed over all, as a ratio, `failed` and `all` aggregated by the same labels: 0 where nothing
 * failed, no value where nothing happened. Here a plain `or` is wanted, not orZero's `or on ()`:
 * the label sets are the same, so each series of `all` without failures gets its own 0 (a
 * service with no errors reads 0% while another one fails), and no series is added twice.
 */
export function failureRatio(failed: string, all: string): string {
  return `(${failed} or ${all} * 0) / ${all}`;
}

/** Which series a panel with many of them draws: the largest by value, or by absolute value. */
export type Largest = 'value' | 'magnitude';

/**
 * The `count` largest series of `expr` at each step of the graph. By magnitude for signed values
 * (P&L): the biggest gains and the biggest losses, each with its sign.
 */
export function largest(count: number, expr: string, by: Largest): string {
  return by === 'value' ? `topk(${count}, ${expr})` : `(${expr}) and topk(${count}, abs(${expr}))`;
}
