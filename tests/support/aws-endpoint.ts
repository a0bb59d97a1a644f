/**
 * What Amazon Managed Service for Prometheus (remote write, signing service `aps`), X-Ray's OTLP
 * traces endpoint (`xray`) and CloudWatch Logs' OTLP endpoint (`logs`) do with a request before
 * anything else: check its AWS Signature Version 4. The aws collector profile cannot reach AWS
 * from here, so this endpoint recomputes every signature with the AWS SDK's own signer
 * (@smithy/signature-v4) from the test's credentials, refuses as AWS does (403 and the error type
 * in `x-amzn-errortype`), and forwards what it accepts, unchanged, to the local Prometheus, Jaeger
 * and VictoriaLogs, so that the data is queryable where the dashboards look.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOOPBACK } from '../../infra/runner/ports.ts';

export type AwsService = 'aps' | 'xray' | 'logs';

export interface AwsRefusal {
  service: AwsService | 'unknown';
  status: number;
  errorType: string;
  reason: string;
}

export interface AwsEndpoint {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly accepted: Record<AwsService, number>;
  readonly refusals: AwsRefusal[];
  close(): Promise<void>;
}

export interface AwsEndpointOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Full URLs: Prometheus /api/v1/write, Jaeger's OTLP/HTTP /v1/traces, VictoriaLogs' OTLP logs. */
  forward: { remoteWrite: string; traces: string; logs: string };
  port?: number;
}

const maxBodyBytes = 64 * 1024 * 1024;
/** AWS refuses a request signed more than 5 minutes from its own clock. */
const maxClockSkewMs = 5 * 60_000;

/** A refusal as AWS words it: the HTTP status, the error type and the message. */
class Refused extends Error {
  readonly status: number;
  readonly errorType: string;
  constructor(status: number, errorType: string, message: string) {
    super(message);
    this.status = status;
    this.errorType = errorType;
  }
}

function route(path: string): AwsService | undefined {
  if (/^\/workspaces\/[^/]+\/api\/v1\/remote_write$/.test(path)) return 'aps';
  if (path === '/v1/traces') return 'xray';
  if (path === '/v1/logs') return 'logs';
  return undefined;
}

interface Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(header: string | undefined): Authorization {
  if (!header) throw new Refused(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (!match)
    throw new Refused(
      403,
      'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters: ${header}`,
    );
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  return {
    accessKeyId: accessKeyId as string,
    date: date as string,
    region: region as string,
    service: service as string,
    signedHeaders: (signedHeaders as string).split(';'),
    signature: signature as string,
  };
}

/** 20261203T101500Z → a Date. */
function parseAmzDate(value: string | undefined): Date | undefined {
  const match = value ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) : null;
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function verify(
  options: AwsEndpointOptions,
  service: AwsService,
  request: IncomingMessage,
  url: URL,
  body: Buffer,
): Promise<void> {
  const auth = parseAuthorization(header(request, 'authorization'));
  if (auth.accessKeyId !== options.credentials.accessKeyId)
    throw new Refused(
      403,
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  if (auth.service !== service)
    throw new Refused(
      403,
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${service}'. (got '${auth.service}')`,
    );
  if (auth.region !== options.region)
    throw new Refused(
      403,
      'InvalidSignatureException',
      `Credential should be scoped to a valid region. (expected '${options.region}', got '${auth.region}')`,
    );
  for (const required of ['host', 'x-amz-date'])
    if (!auth.signedHeaders.includes(required))
      throw new Refused(403, 'InvalidSignatureException', `'${required}' must be a signed header`);
  const signingDate = parseAmzDate(header(request, 'x-amz-date'));
  if (!signingDate || Math.abs(Date.now() - signingDate.getTime()) > maxClockSkewMs)
    throw new Refused(
      403,
      'InvalidSignatureException',
      'Signature expired: x-amz-date is missing or not within 5 minutes',
    );
  if (header(request, 'x-amz-date')?.slice(0, 8) !== auth.date)
    throw new Refused(
      403,
      'InvalidSignatureException',
      "Date in Credential scope does not match x-amz-date's",
    );
  const { sessionToken } = options.credentials;
  if (
    sessionToken &&
    (!auth.signedHeaders.includes('x-amz-security-token') ||
      header(request, 'x-amz-security-token') !== sessionToken)
  )
    throw new Refused(
      403,
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  const contentSha256 = header(request, 'x-amz-content-sha256');
  if (contentSha256 && contentSha256 !== createHash('sha256').update(body).digest('hex'))
    throw new Refused(
      400,
      'XAmzContentSHA256Mismatch',
      'The provided x-amz-content-sha256 does not match the body',
    );

  // The signer signs every header it is given: exactly the client's signed headers, as received.
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) headers[name] = header(request, name) ?? '';
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] as string) : values;
  }
  const signer = new SignatureV4({
    service,
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
    // The client's x-amz-content-sha256, if it sent one, is among its signed headers already.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method ?? 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers,
      body,
    },
    { signingDate },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
  if (
    expected.length !== auth.signature.length ||
    !timingSafeEqual(Buffer.from(expected), Buffer.from(auth.signature))
  )
    throw new Refused(
      403,
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes)
      throw new Refused(413, 'RequestEntityTooLarge', `body over ${maxBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function forward(
  target: string,
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
): Promise<void> {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'content-encoding', 'x-prometheus-remote-write-version']) {
    const value = header(request, name);
    if (value) headers[name] = value;
  }
  const answer = await fetch(target, { method: 'POST', headers, body });
  const content = Buffer.from(await answer.arrayBuffer());
  response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
  response.end(content);
}

export async function startAwsEndpoint(options: AwsEndpointOptions): Promise<AwsEndpoint> {
  const accepted: Record<AwsService, number> = { aps: 0, xray: 0, logs: 0 };
  const refusals: AwsRefusal[] = [];
  const targets: Record<AwsService, string> = {
    aps: options.forward.remoteWrite,
    xray: options.forward.traces,
    logs: options.forward.logs,
  };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? LOOPBACK}`);
    const service = route(url.pathname);
    const handle = async () => {
      if (!service || request.method !== 'POST') {
        response.writeHead(404).end();
        return;
      }
      try {
        const body = await readBody(request);
        await verify(options, service, request, url, body);
        // CloudWatch Logs writes into a group and stream named by these headers, or refuses.
        if (
          service === 'logs' &&
          (!header(request, 'x-aws-log-group') || !header(request, 'x-aws-log-stream'))
        )
          throw new Refused(
            400,
            'ValidationException',
            'x-aws-log-group and x-aws-log-stream headers are required',
          );
        accepted[service] += 1;
        await forward(targets[service], request, body, response);
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        refusals.push({ service, status: error.status, errorType: error.errorType, reason: error.message });
        response.writeHead(error.status, {
          'content-type': 'application/json',
          'x-amzn-errortype': error.errorType,
        });
        response.end(JSON.stringify({ message: error.message }));
      }
    };
    handle().catch((error: unknown) => {
      refusals.push({
        service: service ?? 'unknown',
        status: 502,
        errorType: 'Forwarding',
        reason: String(error),
      });
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
  });
  server.listen(options.port ?? 0, LOOPBACK);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}`,
    accepted,
    refusals,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
