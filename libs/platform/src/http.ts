/**
 * HTTP input rules shared by every service: JSON bodies only (415 otherwise), a body size
 * limit (413), schema validation of body, path and query (400 naming the field and the rule),
 * and one error shape for all of them: `{ "error": { "code", "message", "issues"? } }`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { validator } from 'hono/validator';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

export interface Issue {
  /** Dotted path of the offending field, `body` for the body as a whole. */
  field: string;
  /** The rule that failed, e.g. `invalid_type`, `too_small`, `unrecognized_keys`. */
  rule: string;
  message: string;
}

export function errorBody(code: string, message: string, issues?: Issue[]) {
  return { error: { code, message, ...(issues ? { issues } : {}) } };
}

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string) {
  return c.json(errorBody(code, message), status);
}

/** A 400, 404, 409 or 503 that a handler throws; the service shell turns it into the error shape. */
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

/** Validates one part of the request; handlers read the typed result with `c.req.valid(target)`. */
export function validate<T extends Target, S extends z.ZodType>(target: T, schema: S) {
  return validator(target, (value, c) => {
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
    const type = c.req.header('content-type') ?? '';
    const length = c.req.header('content-length');
    const hasBody = length === undefined ? c.req.raw.body !== null : length !== '0';
    if (hasBody && !/^application\/(.+\+)?json\b/i.test(type)) {
      return errorResponse(c, 415, 'unsupported_media_type', 'request body must be application/json');
    }
    return limit(c, next);
  };
}
