/**
 * What the benchmarks' own OTLP load drivers share (pipeline-throughput/metric-load.ts,
 * logs/log-load.ts): a minimal protobuf writer for requests encoded once, and a sender that
 * puts a second's worth of those requests on the wire every second, patching each one's
 * timestamps in place just before it goes, so the driver itself costs next to no CPU beside
 * the collector it measures.
 *
 * Requests go out through node:http on kept-alive connections rather than fetch: fetch cost
 * 0.7 ms of CPU a request of 87 kB in a probe on this machine, node:http 0.25 ms, and at 200
 * requests a second that difference is a tenth of a core taken from the pipeline under test.
 */
import { Agent, request } from 'node:http';

export type Bytes = Buffer;

export function varint(value: number): Bytes {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2). */
export function field(number: number, body: Bytes): Bytes {
  return Buffer.concat([varint((number << 3) | 2), varint(body.length), body]);
}

export const text = (number: number, value: string) => field(number, Buffer.from(value, 'utf8'));

/** KeyValue { key = 1; AnyValue value = 2 { string_value = 1 } } */
export const stringAttribute = (key: string, value: string) =>
  Buffer.concat([text(1, key), field(2, text(1, value))]);

/**
 * Where each item's own bytes start in `body`, for items (data points, log records) whose
 * fields are the last bytes of every message that encloses them, hence of the request: `fields`
 * are the items as encoded fields, `items` their bodies.
 */
export function trailingItemOffsets(
  body: Bytes,
  fields: readonly Bytes[],
  items: readonly Bytes[],
): number[] {
  const offsets: number[] = [];
  let at = body.length - fields.reduce((sum, f) => sum + f.length, 0);
  fields.forEach((encoded, i) => {
    offsets.push(at + encoded.length - (items[i]?.length ?? 0));
    at += encoded.length;
  });
  return offsets;
}

export interface LoadRequest {
  readonly body: Bytes;
  /** Items (points, records) in the request. */
  readonly items: number;
  /** Writes the request's timestamps (and whatever else changes) for second `second` of the load. */
  stamp(second: number): void;
}

export interface LoadResult {
  /** Items in requests the collector accepted. */
  sent: number;
  refused: number;
  /** Seconds in which not all requests went out within the second (the driver fell behind). */
  lateSeconds: number;
}

/** One POST; resolves with its status code (0 if the connection failed). */
function post(endpoint: URL, agent: Agent, body: Bytes): Promise<number> {
  return new Promise((resolve) => {
    const outgoing = request(
      endpoint,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', () => resolve(0));
      },
    );
    outgoing.on('error', () => resolve(0));
    outgoing.end(body);
  });
}

/** Sends every request once a second for `seconds` seconds, `concurrency` at a time. */
export async function sendEverySecond(
  endpoint: string,
  requests: readonly LoadRequest[],
  seconds: number,
  concurrency: number,
): Promise<LoadResult> {
  const url = new URL(endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { sent: 0, refused: 0, lateSeconds: 0 };
  const started = Date.now();
  for (let second = 0; second < seconds; second += 1) {
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const outgoing = requests[next++] as LoadRequest;
        outgoing.stamp(second);
        const status = await post(url, agent, outgoing.body);
        if (status >= 200 && status < 300) result.sent += outgoing.items;
        else result.refused += outgoing.items;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const wait = started + (second + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else result.lateSeconds += 1;
  }
  agent.destroy();
  return result;
}
