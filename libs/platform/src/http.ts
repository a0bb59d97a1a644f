/**
 * HTTP rules shared by every service: a method a path does not have is a 405 with `Allow`
 * (OPTIONS a 204 with it), JSON bodies only (415 otherwise), a body size limit (413), a body
 * where one is required and schema validation of body, path and query (400 naming the field and
 * the rule), and one error shape for all of them: `{ "error": { "code", "message", "issues"? } }`.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes, routePath } from 'hono/route';
import type { RouterRoute } from 'hono/types';
import { validator } from 'hono/validator';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

export interface Issue {
  /** Dotted path of the offending field, `body` for the body as a whole. */
  field: string;
  /** The rule that failed, e.g. `required`, `invalid_type`, `too_small`, `unrecognized_keys`. */
  rule: string;
  message: string;
}

export function errorBody(code: string, message: string, issues?: Issue[]) {
  return { error: { code, message, ...(issues ? { issues } : {}) } };
}

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string) {
  return c.json(errorBody(code, message), status);
}

/** A 400, 404, 409, 422 or 503 that a handler throws; the service shell turns it into the error shape. */
export class ApiError extends HTTPException {
  readonly code: string;
  readonly issues: Issue[] | undefined;

  constructor(status: ContentfulStatusCode, code: string, message: string, issues?: Issue[]) {
    super(status, { message });
    this.code = code;
    this.issues = issues;
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError(404, 'not_found', `${what} ${id} does not exist`);

/** The order `Allow` lists methods in: reads, writes, then OPTIONS; others alphabetically after. */
const methodOrder = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const rank = (method: string) => {
  const index = methodOrder.indexOf(method);
  return index < 0 ? methodOrder.length : index;
};

function allowHeader(methods: ReadonlySet<string>): string {
  return [...methods, 'OPTIONS']
    .filter((method, i, all) => all.indexOf(method) === i)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .join(', ');
}

/**
 * Adds to `app`, for every path template `routes` has, the answers for the methods it lacks
 * (RFC 9110): 405 with `Allow` and the error shape, and OPTIONS as a 204 with `Allow`. `Allow`
 * lists the methods of every template that matches the path, HEAD wherever GET is (Hono answers
 * HEAD from the GET route) and OPTIONS. A route for every method (`use`, `all`) is taken for
 * middleware: it gives a path no method. Each answer comes from a route at the path's template,
 * so `http.route` on the span and the metrics is that template; a request whose method the path
 * has goes on. Register them before any body rule: a wrong method is a 405 whatever its body.
 */
export function answerMethods(app: Hono, routes: readonly RouterRoute[]): void {
  const served = new Map<string, Set<string>>();
  for (const route of routes) {
    if (route.method === 'ALL') continue;
    const methods = served.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
    served.set(route.path, methods);
  }
  const answer: MiddlewareHandler = async (c, next) => {
    const method = c.req.method;
    if (served.get(routePath(c))?.has(method)) return next();
    // Another template may match the same path (`/bots/:id` and `/bots/export`): theirs count too.
    const methods = new Set<string>();
    for (const route of matchedRoutes(c)) {
      if (route.handler === answer) for (const known of served.get(route.path) ?? []) methods.add(known);
    }
    if (methods.has(method)) return next();
    const allow = allowHeader(methods);
    c.header('Allow', allow);
    if (method === 'OPTIONS') return c.body(null, 204);
    return c.json(
      errorBody('method_not_allowed', `${method} ${c.req.path} is not allowed; allowed: ${allow}`),
      405,
    );
  };
  for (const path of served.keys()) app.all(path, answer);
}

function issuesOf(error: z.ZodError, root: string): Issue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    // A strict object names the unknown keys in the issue, not in its path.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const field = [root, ...path].join('.');
    return {
      field: keys.length > 0 ? keys.map((key) => `${field}.${key}`).join(', ') : field,
      rule: issue.code,
      message: issue.message,
    };
  });
}

type Target = 'json' | 'param' | 'query';
const rootName: Record<Target, string> = { json: 'body', param: 'path', query: 'query' };

/**
 * Validates one part of the request; handlers read the typed result with `c.req.valid(target)`.
 * A `json` body is required: none, or one of white space only, is a 400 naming `body` (the
 * validator alone would validate `{}` in its place, which a partial update accepts).
 */
export function validate<T extends Target, S extends z.ZodType>(target: T, schema: S) {
  const check = validator(target, (value, c) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      return c.json(
        errorBody(
          'validation_failed',
          `invalid ${rootName[target]}`,
          issuesOf(parsed.error, rootName[target]),
        ),
        400,
      );
    }
    return parsed.data;
  });
  if (target !== 'json') return check;
  const requireBody: typeof check = async (c, next) => {
    // Read once and kept: the validator parses the same text.
    if ((await c.req.text()).trim() === '') {
      return c.json(
        errorBody('validation_failed', 'invalid body', [
          { field: 'body', rule: 'required', message: 'a JSON body is required' },
        ]),
        400,
      );
    }
    return check(c, next);
  };
  return requireBody;
}

/** The media types a JSON body may have, as Hono's validator reads them: `application/json`, `…+json`. */
const jsonMediaType = /^application\/([\w.-]+\+)?json$/i;

/**
 * Whether a request carries a body. Over HTTP/1.1 Content-Length or Transfer-Encoding says so
 * (RFC 9112 §6.3), and with neither there is none, though the Node adapter gives every POST a
 * stream, empty then. A request made in-process (`app.request`) has neither header: its body
 * counts when it has a content type.
 */
function hasBody(c: Context): boolean {
  const length = c.req.header('content-length');
  if (length !== undefined) return length !== '0';
  if (c.req.header('transfer-encoding') !== undefined) return true;
  return c.req.header('content-type') !== undefined && c.req.raw.body !== null;
}

/** 415 unless a request with a body says it is JSON; 413 past `maxBytes`. */
export function jsonBodies(maxBytes: number): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) => errorResponse(c, 413, 'payload_too_large', `request body over ${maxBytes} bytes`),
  });
  return async (c, next) => {
    const method = c.req.method;
    if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') return next();
    const mediaType = (c.req.header('content-type') ?? '').split(';')[0]?.trim() ?? '';
    if (hasBody(c) && !jsonMediaType.test(mediaType)) {
      return errorResponse(c, 415, 'unsupported_media_type', 'request body must be application/json');
    }
    return limit(c, next);
  };
}
