import { LOOPBACK, ports } from '../../infra/runner/ports.ts';

const api = `http://${LOOPBACK}:${ports.prometheus}/api/v1`;

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Runs an instant PromQL query and returns its vector. */
export async function query(promql: string): Promise<Sample[]> {
  const response = await fetch(`${api}/query?${new URLSearchParams({ query: promql }).toString()}`);
  const body = (await response.json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error ?? response.statusText}`);
  return body.data?.result ?? [];
}

export interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

/** Exemplars of the series that `promql` selects, over the last `minutes`. */
export async function queryExemplars(promql: string, minutes = 10): Promise<ExemplarSeries[]> {
  const now = Date.now() / 1000;
  const params = new URLSearchParams({
    query: promql,
    start: String(now - minutes * 60),
    end: String(now + 60),
  });
  const response = await fetch(`${api}/query_exemplars?${params.toString()}`);
  const body = (await response.json()) as { status: string; error?: string; data?: ExemplarSeries[] };
  if (body.status !== 'success') throw new Error(`exemplars ${promql}: ${body.error ?? response.statusText}`);
  return body.data ?? [];
}

/**
 * The sum over every series of one metric in a Prometheus text exposition (0 if absent), for
 * reading a collector's own counters, optionally only the series whose labels include `having`.
 */
export async function scrapedValue(url: string, name: string, having = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !line.includes(having)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** The raw samples of a range selector (`metric{…}[10m]`), as stored: no evaluation steps. */
export async function queryRange(selector: string): Promise<RangeSeries[]> {
  const response = await fetch(`${api}/query?${new URLSearchParams({ query: selector }).toString()}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { result: RangeSeries[] };
  };
  if (body.status !== 'success') throw new Error(`PromQL ${selector}: ${body.error ?? response.statusText}`);
  return body.data?.result ?? [];
}
