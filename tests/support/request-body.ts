/**
 * The body of a request to a test endpoint that stands in for a vendor's intake, bounded as the
 * vendors bound theirs, so that a runaway sender gets a 413 instead of filling the test's memory.
 */
import { type IncomingMessage } from 'node:http';

export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The whole body, or undefined once it passes MAX_BODY_BYTES. */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop buffering but leave the socket alone, so the 413 can still be written on it.
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
