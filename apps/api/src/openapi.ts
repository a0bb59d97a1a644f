/**
 * The OpenAPI 3.1 document, built from the same schemas that validate requests and type the
 * answers, so it cannot drift from what the api accepts and returns. Each operation declares
 * every status it can answer: its own, and the service shell's (400 for a request that breaks
 * a schema, 404 for an unknown id, 413 and 415 for bodies, 500 for a fault, 503 while starting
 * or without NATS), each error with the one `Error` schema. HEAD is declared wherever GET is and
 * OPTIONS on every path, as the shell answers them. A method that a path lacks is answered by
 * `MethodNotAllowed` and an unknown path by `NotFound`: they belong to no operation.
 */
import {
  Bot,
  BotInput,
  Execution,
  IdParam,
  Pipeline,
  PipelineInput,
  PipelineUpdate,
} from '@tradeobs/platform';
import { z } from 'zod';
import { BotList } from './routes/bots.ts';
import { ExecutionList, ExecutionListQuery } from './routes/executions.ts';
import { PipelineList, PipelineListQuery } from './routes/pipelines.ts';
import { PortfolioView } from './routes/portfolio.ts';

type JsonSchema = z.core.JSONSchema.BaseSchema;
interface Content {
  content: { 'application/json': { schema: JsonSchema } };
}
interface Response extends Partial<Content> {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}
type ResponseOrRef = Response | { $ref: string };
interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: JsonSchema;
}
interface Operation {
  summary: string;
  parameters?: Parameter[];
  requestBody?: Content & { required: true };
  responses: Record<string, ResponseOrRef>;
}
type Method = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';
type PathItem = Partial<Record<Method, Operation>>;

/**
 * What JSON Schema cannot learn from zod by itself: a string that zod trims before measuring it
 * (names) must hold a character other than white space, or `"  "` would pass the document and
 * fail the api. Found by what the schema does to `" x "`, not by how it is written.
 */
function trimmedStrings({ zodSchema, jsonSchema }: { zodSchema: z.core.$ZodType; jsonSchema: JsonSchema }) {
  if (jsonSchema.type !== 'string' || jsonSchema.pattern !== undefined) return;
  const parsed = z.safeParse(zodSchema, ' x ');
  if (parsed.success && parsed.data === 'x') jsonSchema.pattern = '\\S';
}

const schema = (type: z.ZodType, io: 'input' | 'output' = 'output') =>
  z.toJSONSchema(type, { io, unrepresentable: 'any', override: trimmedStrings });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (body: JsonSchema): Content => ({ content: { 'application/json': { schema: body } } });
const answer = (description: string, name?: string): Response => ({
  description,
  ...(name ? json(ref(name)) : {}),
});
const problem = (description: string) => answer(description, 'Error');
const shared = (name: keyof typeof sharedResponses) => ({ $ref: `#/components/responses/${name}` });

const allowHeader = {
  description: 'The methods the path has: HEAD wherever GET is, and OPTIONS',
  schema: { type: 'string' as const, examples: ['GET, HEAD, PUT, PATCH, DELETE, OPTIONS'] },
};
const retryAfterHeader = {
  description: 'Seconds to wait before trying again',
  schema: { type: 'integer' as const, minimum: 0 },
};

/** The answers of the service shell, the same for every operation they apply to. */
const sharedResponses = {
  InvalidRequest: problem(
    'The path, query or body breaks its schema, the body is not JSON, or a required body is ' +
      'missing; `issues` names each field (`body` for the body as a whole) and the rule it broke',
  ),
  NotFound: problem('No such resource: an unknown id, or no route at the path'),
  MethodNotAllowed: {
    ...problem('The path has no such method (whatever the body); `Allow` lists the ones it has'),
    headers: { Allow: allowHeader },
  },
  PayloadTooLarge: problem('The body is over 64 KiB (65,536 bytes)'),
  UnsupportedMediaType: problem('A body that is not `application/json` (or `application/*+json`)'),
  InternalError: problem(
    'A fault of the api: a bug, a stored entry that breaks its schema, or a fault injected on purpose',
  ),
  Unavailable: {
    ...problem('The api is starting, or NATS cannot be reached'),
    headers: { 'Retry-After': retryAfterHeader },
  },
} satisfies Record<string, Response>;

function parameters(where: 'path' | 'query', object: z.ZodObject): Parameter[] {
  const shape = schema(object, 'input');
  return Object.entries(shape.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (shape.required ?? []).includes(name),
    schema: property as JsonSchema,
  }));
}

interface Spec {
  summary: string;
  query?: z.ZodObject;
  /** The JSON body the operation requires, by schema name. */
  body?: string;
  /** The operation's own answers: its success and the errors its handler throws. */
  responses: Record<string, Response>;
}

/** An operation of the api's resources, with the shell's answers for what it takes. */
function operation(path: string, method: Method, spec: Spec): Operation {
  const byPath = path.includes('{id}') ? parameters('path', IdParam) : [];
  const byQuery = spec.query ? parameters('query', spec.query) : [];
  const takesBody = method === 'post' || method === 'put' || method === 'patch';
  const validates = byPath.length > 0 || byQuery.length > 0 || spec.body !== undefined;
  return {
    summary: spec.summary,
    ...(byPath.length + byQuery.length > 0 ? { parameters: [...byPath, ...byQuery] } : {}),
    ...(spec.body ? { requestBody: { required: true, ...json(ref(spec.body)) } } : {}),
    responses: {
      ...spec.responses,
      ...(validates ? { 400: shared('InvalidRequest') } : {}),
      ...(byPath.length > 0 ? { 404: shared('NotFound') } : {}),
      // The shell's body rules hold for every POST, PUT and PATCH, whether it reads a body or not.
      ...(takesBody ? { 413: shared('PayloadTooLarge'), 415: shared('UnsupportedMediaType') } : {}),
      500: shared('InternalError'),
      503: shared('Unavailable'),
    },
  };
}

const lostRace = '`conflict`: other requests kept changing it meanwhile; read it again and retry';

function resources(): Record<string, Partial<Record<Method, Spec>>> {
  const lifecycle = (action: string): Partial<Record<Method, Spec>> => ({
    post: {
      summary: `${action} a bot`,
      responses: {
        200: answer('The bot', 'Bot'),
        409: problem(`\`invalid_transition\`: the bot's status does not allow it; or ${lostRace}`),
      },
    },
  });
  return {
    '/openapi.json': {
      get: {
        summary: 'This document',
        responses: { 200: { description: 'The document', ...json({ type: 'object' }) } },
      },
    },
    '/pipelines': {
      get: {
        summary: 'List pipelines, oldest first',
        query: PipelineListQuery,
        responses: { 200: answer('Pipelines', 'PipelineList') },
      },
      post: {
        summary: 'Create a pipeline',
        body: 'PipelineInput',
        responses: { 201: answer('Created', 'Pipeline') },
      },
    },
    '/pipelines/{id}': {
      get: { summary: 'Get a pipeline', responses: { 200: answer('The pipeline', 'Pipeline') } },
      put: {
        summary: 'Replace a pipeline',
        body: 'PipelineInput',
        responses: { 200: answer('Replaced', 'Pipeline'), 409: problem(lostRace) },
      },
      patch: {
        summary: 'Change some fields of a pipeline',
        body: 'PipelineUpdate',
        responses: { 200: answer('Updated', 'Pipeline'), 409: problem(lostRace) },
      },
      delete: { summary: 'Delete a pipeline', responses: { 204: answer('Deleted') } },
    },
    '/pipelines/{id}/executions': {
      post: {
        summary: 'Trigger an execution by hand',
        responses: {
          202: answer('Queued', 'Execution'),
          409: problem('`pipeline_disabled`, or `pipeline_running`: it runs an execution already'),
        },
      },
    },
    '/executions': {
      get: {
        summary: 'List executions, newest first',
        query: ExecutionListQuery,
        responses: { 200: answer('Executions', 'ExecutionList') },
      },
    },
    '/executions/{id}': {
      get: { summary: 'Get an execution', responses: { 200: answer('The execution', 'Execution') } },
    },
    '/bots': {
      get: { summary: 'List bots, oldest first', responses: { 200: answer('Bots', 'BotList') } },
      post: {
        summary: 'Create a bot',
        body: 'BotInput',
        responses: {
          201: answer('Created', 'Bot'),
          422: problem(
            'The body fits the schema but not the stored pipelines: `body.pipelineId` does not ' +
              'exist (rule `exists`), or that pipeline does not trade `body.symbol` (rule `traded_by_pipeline`)',
          ),
        },
      },
    },
    '/bots/{id}': {
      get: { summary: 'Get a bot', responses: { 200: answer('The bot', 'Bot') } },
      delete: { summary: 'Delete a bot', responses: { 204: answer('Deleted') } },
    },
    '/bots/{id}/start': lifecycle('Start'),
    '/bots/{id}/pause': lifecycle('Pause'),
    '/bots/{id}/stop': lifecycle('Stop'),
    '/portfolio': {
      get: { summary: 'The portfolio at market', responses: { 200: answer('The portfolio', 'Portfolio') } },
    },
  };
}

/** The shell's probes: they answer while the api starts, and never fail on their own. */
const probes: Record<string, PathItem> = {
  '/health': { get: { summary: 'Liveness', responses: { 200: answer('Alive', 'Health') } } },
  '/ready': {
    get: {
      summary: 'Readiness: NATS and set-up',
      responses: { 200: answer('Ready', 'Readiness'), 503: answer('Not ready', 'Readiness') },
    },
  },
};

/** HEAD answers what GET does, without the body. */
function head(get: Operation): Operation {
  const responses = Object.entries(get.responses).map(([status, response]): [string, Response] => {
    const full: Response =
      '$ref' in response
        ? sharedResponses[response.$ref.split('/').pop() as keyof typeof sharedResponses]
        : response;
    return [status, { description: full.description, ...(full.headers ? { headers: full.headers } : {}) }];
  });
  return { ...get, summary: `${get.summary}, without the body`, responses: Object.fromEntries(responses) };
}

/** OPTIONS says which methods the path has; a resource's is a 503 too while the api starts. */
function options(starting: boolean): Operation {
  return {
    summary: 'The methods of this path',
    responses: {
      204: { description: 'No body; `Allow` lists the methods', headers: { Allow: allowHeader } },
      ...(starting ? { 503: shared('Unavailable') } : {}),
    },
  };
}

function complete(item: PathItem, starting: boolean): PathItem {
  return { ...item, ...(item.get ? { head: head(item.get) } : {}), options: options(starting) };
}

const Health = z.object({ status: z.literal('ok'), service: z.string() }).strict();
const Readiness = z
  .object({ status: z.enum(['ready', 'not_ready']), dependencies: z.record(z.string(), z.boolean()) })
  .strict();

const ErrorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: {
          type: 'string',
          description:
            'What went wrong, for programs: validation_failed, not_found, method_not_allowed, ' +
            'payload_too_large, unsupported_media_type, conflict, invalid_transition, pipeline_disabled, ' +
            'pipeline_running, starting, unavailable, internal_error',
        },
        message: { type: 'string', description: 'What went wrong, for people' },
        issues: {
          type: 'array',
          items: {
            type: 'object',
            required: ['field', 'rule', 'message'],
            additionalProperties: false,
            properties: {
              field: {
                type: 'string',
                description: 'Dotted path of the field: `body.name`, `path.id`, `query.limit`',
              },
              rule: {
                type: 'string',
                description: 'The rule it broke: `required`, `invalid_type`, `too_small`, …',
              },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  },
} satisfies JsonSchema;

export function openApiDocument() {
  const paths: Record<string, PathItem> = {};
  for (const [path, item] of Object.entries(resources())) {
    const operations = Object.entries(item).map(([method, spec]) => [
      method,
      operation(path, method as Method, spec),
    ]);
    paths[path] = complete(Object.fromEntries(operations) as PathItem, true);
  }
  for (const [path, item] of Object.entries(probes)) paths[path] = complete(item, false);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Trading platform api',
      version: '0.1.0',
      description:
        'JSON in and out; every error has the `Error` shape. The rules hold in this order: a method ' +
        'that the path does not have is a 405 with `Allow`, whatever the body; a body must be ' +
        '`application/json` (415) of at most 64 KiB (413); then the path, the query and the body ' +
        'must fit their schemas (400), and a body is required where an operation takes one (400 ' +
        'naming `body`). An unknown path is a 404. Live prices stream over WebSocket at `/ws/prices`.',
    },
    paths,
    components: {
      schemas: {
        PipelineInput: schema(PipelineInput, 'input'),
        PipelineUpdate: schema(PipelineUpdate, 'input'),
        Pipeline: schema(Pipeline),
        PipelineList: schema(PipelineList),
        Execution: schema(Execution),
        ExecutionList: schema(ExecutionList),
        BotInput: schema(BotInput, 'input'),
        Bot: schema(Bot),
        BotList: schema(BotList),
        Portfolio: schema(PortfolioView),
        Health: schema(Health),
        Readiness: schema(Readiness),
        Error: ErrorSchema,
      },
      responses: sharedResponses,
    },
  };
}
