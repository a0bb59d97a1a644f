/**
 * A stand-in for the three AWS endpoints the aws collector profile writes to: Amazon Managed
 * Service for Prometheus remote write (signing service aps), X-Ray's OTLP traces endpoint (xray)
 * and CloudWatch Logs' OTLP endpoint (logs). The profile's whole risk is in the signing: a
 * sigv4auth extension bound to the wrong service or region, a header changed after signing (the
 * compression round tripper once ran after the signer) or a body that is not the one hashed, and
 * AWS answers 403 while the collector retries forever. So every request's Signature Version 4 is
 * checked here as AWS would check it, recomputed with the AWS SDK's own signer, and refused with
 * AWS's status, error type and wording; what passes is forwarded unchanged to the local backends
 * (Prometheus, Jaeger, VictoriaLogs), so the test can also see the data arrive.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOOPBACK } from '../../infra/runner/ports.ts';
import { readBody } from './request-body.ts';

export type AwsService = 'aps' | 'xray' | 'logs';

export interface AwsRefusal {
  service: AwsService | 'unknown';
  status: number;
  /** As AWS sends it in x-amzn-errortype, e.g. InvalidSignatureException. */
  errorType: string;
  /** The message AWS would send, with what this endpoint found when that message is vague. */
  reason: string;
}

export interface AwsEndpoint {
  /** http://127.0.0.1:<port>, standing in for https://<service>.<region>.amazonaws.com. */
  readonly url: string;
  /** Requests whose signature verified and whose backend answered 2xx, per service. */
  readonly accepted: Record<AwsService, number>;
  /** Every error this endpoint answered itself, an unreachable backend (503) included; a backend's own error answers are passed on, not listed. */
  readonly refusals: AwsRefusal[];
  close(): Promise<void>;
}

export interface AwsEndpointOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Full URLs: Prometheus /api/v1/write, Jaeger OTLP/HTTP /v1/traces, VictoriaLogs /insert/opentelemetry/v1/logs. */
  forward: { remoteWrite: string; traces: string; logs: string };
  port?: number;
}

interface Route {
  service: AwsService;
  forward: string;
  /** Headers the backend needs to read the body; the rest (signing, AWS routing) stay here. */
  passHeaders: readonly string[];
}

interface Problem {
  status: number;
  errorType: string;
  message: string;
  detail?: string;
}

// AWS's clock-skew allowance for signed requests.
const MAX_SKEW_MS = 5 * 60 * 1000;
const ALGORITHM = 'AWS4-HMAC-SHA256';
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const REMOTE_WRITE_PATH = /^\/workspaces\/[^/]+\/api\/v1\/remote_write$/;
const OTLP_HEADERS = ['content-type', 'content-encoding'] as const;
const INVALID_TOKEN = 'The security token included in the request is invalid.';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export async function startAwsEndpoint(options: AwsEndpointOptions): Promise<AwsEndpoint> {
  const accepted: Record<AwsService, number> = { aps: 0, xray: 0, logs: 0 };
  const refusals: AwsRefusal[] = [];
  const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
  const credentials = sessionToken
    ? { accessKeyId, secretAccessKey, sessionToken }
    : { accessKeyId, secretAccessKey };
  // applyChecksum off: otherwise the signer adds x-amz-content-sha256 to the headers it signs,
  // which the Go SDK's signer (and so the collector) does not send for these services.
  const signers = Object.fromEntries(
    (['aps', 'xray', 'logs'] as const).map((service) => [
      service,
      new SignatureV4({ service, region: options.region, credentials, sha256: Sha256, applyChecksum: false }),
    ]),
  ) as Record<AwsService, SignatureV4>;

  function routeOf(req: IncomingMessage, path: string): Route | undefined {
    if (req.method !== 'POST') return undefined;
    if (REMOTE_WRITE_PATH.test(path)) {
      return {
        service: 'aps',
        forward: options.forward.remoteWrite,
        passHeaders: [...OTLP_HEADERS, 'x-prometheus-remote-write-version'],
      };
    }
    if (path === '/v1/traces')
      return { service: 'xray', forward: options.forward.traces, passHeaders: OTLP_HEADERS };
    if (path === '/v1/logs')
      return { service: 'logs', forward: options.forward.logs, passHeaders: OTLP_HEADERS };
    return undefined;
  }

  function refuse(
    res: ServerResponse,
    service: AwsService | 'unknown',
    problem: Problem,
    close = false,
  ): void {
    const { status, errorType, message, detail } = problem;
    refusals.push({ service, status, errorType, reason: detail ? `${message} (${detail})` : message });
    const body = JSON.stringify({ message });
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-amzn-errortype': errorType,
      ...(close ? { connection: 'close' } : {}),
    });
    res.end(body);
  }

  /** Why AWS would refuse the request's signature, or undefined if it would take it. */
  async function verify(
    service: AwsService,
    req: IncomingMessage,
    path: string,
    body: Buffer,
  ): Promise<Problem | undefined> {
    const authorization = req.headers.authorization;
    if (!authorization)
      return forbidden('MissingAuthenticationTokenException', 'Missing Authentication Token');
    const parsed = parseAuthorization(authorization);
    if (typeof parsed === 'string') return forbidden('IncompleteSignatureException', parsed);
    const { scope, signedHeaders, signature } = parsed;

    if (scope.accessKeyId !== accessKeyId) return forbidden('UnrecognizedClientException', INVALID_TOKEN);
    if (scope.service !== service) {
      return invalid(`Credential should be scoped to correct service: '${service}', not '${scope.service}'.`);
    }
    if (scope.region !== options.region) {
      return invalid(
        `Credential should be scoped to a valid region, not '${scope.region}'; this endpoint is '${options.region}'.`,
      );
    }

    const amzDate = req.headers['x-amz-date'];
    if (typeof amzDate !== 'string') {
      return forbidden(
        'IncompleteSignatureException',
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      );
    }
    const signingDate = parseAmzDate(amzDate);
    if (!signingDate) {
      return forbidden(
        'IncompleteSignatureException',
        `Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`,
      );
    }
    const now = Date.now();
    if (signingDate.getTime() < now - MAX_SKEW_MS) {
      return invalid(
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - MAX_SKEW_MS)} ` +
          `(${formatAmzDate(now)} - 5 min.)`,
      );
    }
    if (signingDate.getTime() > now + MAX_SKEW_MS) {
      return invalid(
        `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + MAX_SKEW_MS)} ` +
          `(${formatAmzDate(now)} + 5 min.)`,
      );
    }
    if (scope.date !== amzDate.slice(0, 8)) {
      return invalid(
        'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ' +
          `'${scope.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      );
    }

    if (!signedHeaders.includes('host')) {
      return invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    }
    if (!signedHeaders.includes('x-amz-date')) {
      return invalid("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
    }
    const token = req.headers['x-amz-security-token'];
    if (sessionToken) {
      if (token !== sessionToken) return forbidden('UnrecognizedClientException', INVALID_TOKEN);
      if (!signedHeaders.includes('x-amz-security-token')) {
        return invalid("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
      }
    } else if (token !== undefined) {
      // Long-term keys carry no token; one sent with them is a token AWS does not know.
      return forbidden('UnrecognizedClientException', INVALID_TOKEN);
    }

    const contentSha256 = req.headers['x-amz-content-sha256'];
    if (contentSha256 !== undefined && contentSha256 !== createHash('sha256').update(body).digest('hex')) {
      return invalid("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }

    // Exactly the headers the client says it signed, as received: the signer would drop some of
    // them (connection, user-agent, ...) unless told they are signable, and a header that is not
    // there cannot be signed at all.
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const values = req.headersDistinct[name];
      if (!values) return invalid(SIGNATURE_MISMATCH, `signed header '${name}' is not in the request`);
      // Repeated headers are canonicalised as one value joined by commas, as the SDKs do.
      headers[name] = values.join(',');
    }
    const [hostname = '', port] = (req.headers.host ?? '').split(':');
    const query: Record<string, string | string[]> = {};
    const search = new URL(req.url ?? '/', 'http://endpoint').searchParams;
    for (const key of new Set(search.keys())) {
      const values = search.getAll(key);
      query[key] = values.length === 1 ? (values[0] ?? '') : values;
    }
    // The signer escapes the path once more, as AWS does for every service but S3: the path as
    // received (already escaped once by the client) is what it must be given. It also takes
    // the payload hash from x-amz-content-sha256 when that is signed, else hashes the body.
    // x-amz-date, and x-amz-security-token when the credentials have one, it sets itself from
    // signingDate and the credentials, which the checks above made equal to what was received;
    // a signed Date or Authorization header it would drop, which no SDK signs.
    const signed = await signers[service].sign(
      {
        method: req.method ?? 'POST',
        protocol: 'http:',
        hostname,
        ...(port ? { port: Number(port) } : {}),
        path,
        query,
        headers,
        body,
      },
      { signingDate, signableHeaders: new Set(signedHeaders) },
    );
    const expected = /Signature=([0-9a-f]{64})$/.exec(signed.headers.authorization ?? '')?.[1];
    if (!expected) throw new Error(`the signer produced no signature: ${signed.headers.authorization ?? ''}`);
    if (!timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(signature, 'hex'))) {
      return invalid(SIGNATURE_MISMATCH);
    }
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The raw path, not URL.pathname: the signature covers it exactly as sent.
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routeOf(req, path);
    if (!route) {
      return refuse(res, 'unknown', {
        status: 404,
        errorType: 'UnknownOperationException',
        message: 'Unknown operation',
        detail: `${req.method ?? ''} ${path}`,
      });
    }
    const { service } = route;
    const body = await readBody(req);
    if (!body) {
      const problem = {
        status: 413,
        errorType: 'RequestEntityTooLargeException',
        message: 'Request Entity Too Large',
      };
      return refuse(res, service, problem, true);
    }
    const problem = await verify(service, req, path, body);
    if (problem) return refuse(res, service, problem);
    if (service === 'logs') {
      // CloudWatch names the log group and stream only by these headers; the error type is ours,
      // in CloudWatch Logs' vocabulary, as its documentation does not give one.
      for (const name of ['x-aws-log-group', 'x-aws-log-stream']) {
        if (!req.headers[name]) {
          return refuse(res, service, {
            status: 400,
            errorType: 'InvalidParameterException',
            message: `Missing required header: ${name}`,
          });
        }
      }
    }

    let answer: { status: number; headers: Record<string, string>; body: Buffer };
    try {
      answer = await forward(route, req, body);
    } catch (error) {
      return refuse(res, service, {
        status: 503,
        errorType: 'ServiceUnavailableException',
        message: 'Service Unavailable',
        detail: `backend ${route.forward}: ${String(error)}`,
      });
    }
    if (answer.status >= 200 && answer.status < 300) accepted[service] += 1;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
    res.end(answer.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      refusals.push({ service: 'unknown', status: 500, errorType: 'InternalFailure', reason: String(error) });
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalFailure' });
        res.end(JSON.stringify({ message: 'InternalFailure' }));
      } else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${LOOPBACK}:${port}`,
    accepted,
    refusals,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // The exporters keep their connections alive; without this close() would wait for them to idle out.
        server.closeAllConnections();
      }),
  };
}

function forbidden(errorType: string, message: string, detail?: string): Problem {
  return { status: 403, errorType, message, ...(detail ? { detail } : {}) };
}

function invalid(message: string, detail?: string): Problem {
  return forbidden('InvalidSignatureException', message, detail);
}

interface ParsedAuthorization {
  scope: { accessKeyId: string; date: string; region: string; service: string };
  signedHeaders: string[];
  signature: string;
}

/** The Authorization header's parts, or AWS's complaint about it. */
function parseAuthorization(header: string): ParsedAuthorization | string {
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM) return `Unsupported AWS 'algorithm': '${algorithm}'.`;
  const parameters = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const equals = part.indexOf('=');
    if (equals > 0) parameters.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  const credential = parameters.get('Credential');
  const signedHeaders = parameters.get('SignedHeaders');
  const signature = parameters.get('Signature');
  const missing = [
    ...(credential ? [] : ['Credential']),
    ...(signature ? [] : ['Signature']),
    ...(signedHeaders ? [] : ['SignedHeaders']),
  ];
  if (!credential || !signedHeaders || !signature) {
    return `${missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' ')} Authorization=${header}`;
  }
  const [accessKeyId, date, region, service, terminator, ...rest] = credential.split('/');
  if (!accessKeyId || !date || !region || !service || terminator !== 'aws4_request' || rest.length > 0) {
    return `Credential should be of the form '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request', not '${credential}'.`;
  }
  if (!/^[0-9a-f]{64}$/.test(signature))
    return `Signature should be 64 lowercase hex digits, not '${signature}'.`;
  return {
    scope: { accessKeyId, date, region, service },
    signedHeaders: signedHeaders.split(';').map((name) => name.toLowerCase()),
    signature,
  };
}

function parseAmzDate(value: string): Date | undefined {
  const match = AMZ_DATE.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 20240231 over into March; AWS would not read that as a date.
  return formatAmzDate(date.getTime()) === value ? date : undefined;
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');
}

/** Sends the body on unchanged and brings back the backend's answer. */
function forward(
  route: Route,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const headers: Record<string, string | number> = { 'content-length': body.length };
  for (const name of route.passHeaders) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return new Promise((resolve, reject) => {
    // node:http, not fetch: fetch would decompress the backend's answer behind our back.
    const outgoing = httpRequest(route.forward, { method: 'POST', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', reject);
      response.once('end', () => {
        const passed: Record<string, string> = {};
        for (const name of ['content-type', 'content-encoding']) {
          const value = response.headers[name];
          if (typeof value === 'string') passed[name] = value;
        }
        resolve({ status: response.statusCode ?? 502, headers: passed, body: Buffer.concat(chunks) });
      });
    });
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}
