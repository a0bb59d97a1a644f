/**
 * Reading PromQL written by people: the metric names an expression uses (so a test can check
 * they exist after a rename), and Grafana's variables replaced by values for a live query.
 */
const keywords = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** Metric names (and recorded series names) referenced by a PromQL expression. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    // Label lists of aggregations and vector matching are not metric names.
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice(match.index + name.length).trimStart();
    if (after.startsWith('(') || keywords.has(name.toLowerCase())) continue;
    // The letters of a duration (5m) or a number (1e3) are not names.
    if (/[0-9.]$/.test(stripped.slice(0, match.index))) continue;
    names.add(name);
  }
  return [...names].sort();
}

/**
 * Grafana's variables as the live test queries them: every service and every instance (their
 * "All", `.*`), a one-minute window.
 */
export function withVariables(expr: string, rateInterval = '1m'): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, rateInterval)
    .replace(/\$__interval|\$\{__interval\}/g, rateInterval)
    .replace(/\$\{?service\}?/g, '.*')
    .replace(/\$\{?instance\}?/g, '.*');
}
