/**
 * The api's contract on the running api (NATS and the api, started by the stack runner): requests
 * generated with fast-check from the api's own OpenAPI document (`GET /openapi.json`): valid
 * ones, ones that break one rule each (a required field left out, a wrong type, an unknown key,
 * a value out of range, a bad path or query parameter, a wrong content type, a body that is
 * malformed, missing or over the limit), methods a path does not have, and unknown paths. Every
 * answer is checked against the document: a status the operation declares (405 and 404 as the
 * document's `MethodNotAllowed` and `NotFound` for wrong methods and unknown paths), the status
 * the broken rule calls for, the body valid against the declared schema, the declared headers,
 * and never a 5xx. The seed is fixed (CONTRACT_SEED changes it) and printed with a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { useTemporaryStackState } from '../support/stack.ts';

const api = `http://${LOOPBACK}:${ports.api}`;
const seed = Number(process.env.CONTRACT_SEED ?? 20_261_214);
const rounds = 4;
const runsPerRound = 250;

/** The part of JSON Schema the document uses. */
interface Schema {
  $ref?: string;
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean';
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  enum?: (string | number | boolean)[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}
interface Content {
  'application/json': { schema: Schema };
}
interface ResponseSpec {
  description: string;
  headers?: Record<string, unknown>;
  content?: Content;
}
interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: Schema;
}
interface OperationSpec {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Content };
  responses: Record<string, ResponseSpec | { $ref: string }>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, OperationSpec>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, ResponseSpec> };
}

type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; contentType: string }
  | { kind: 'text'; text: string; contentType: string }
  /** Built when sent: a counterexample stays readable. */
  | { kind: 'oversize'; chunked: boolean };

interface Probe {
  /** What the request is: `valid`, or the one rule it breaks. */
  rule: string;
  method: string;
  path: string;
  /** The document's path, undefined for an unknown one. */
  template: string | undefined;
  body: Body;
  /** The status a broken rule calls for. */
  expect?: number;
  /** The field the 400 must name. */
  field?: string;
}

const httpMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

// What the document says, read first.
let document: OpenApi;
let validators: Ajv2020;
/** The rule of every `{id}`, as the document states it for the path parameter. */
let idPattern = /(?:)/;
/** The body limit, as the document's 413 states it. */
let bodyLimitBytes = 0;
/** Ids the api knows, by the resource of the path: most generated paths name one. */
const known: Record<string, string[]> = { pipelines: [], executions: [], bots: [] };
/** Statuses seen, by operation: printed, and every operation must have been sent. */
const seen = new Map<string, Map<number, number>>();

/** A JSON pointer, `/` first, to the document's part at `parts`. */
const pointer = (...parts: string[]) =>
  parts.map((part) => `/${part.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/components/schemas/', '');
  const found = document.components.schemas[name];
  assert.ok(found, `no schema ${name}`);
  return resolve(found);
}

function responseOf(spec: ResponseSpec | { $ref: string }): { response: ResponseSpec; at: string } {
  if (!('$ref' in spec)) return { response: spec, at: '' };
  const name = spec.$ref.replace('#/components/responses/', '');
  const response = document.components.responses[name];
  assert.ok(response, `no response ${name}`);
  return { response, at: pointer('components', 'responses', name) };
}

// ---- Values from schemas --------------------------------------------------------------------

function valueOf(raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string': {
      if (schema.format === 'date-time')
        return fc
          .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
          .map((date) => date.toISOString());
      const pattern = schema.pattern === undefined ? undefined : new RegExp(schema.pattern);
      const fits = (text: string) =>
        text.length >= (schema.minLength ?? 0) && text.length <= (schema.maxLength ?? Infinity);
      // An anchored pattern says everything; otherwise printable ASCII within the lengths (zod
      // counts UTF-16 units where JSON Schema counts code points: ASCII keeps them equal).
      if (pattern && schema.pattern?.startsWith('^')) {
        const generated = fc.stringMatching(pattern).filter(fits);
        // An id names something the api has, mostly: a bot's pipeline, a filter that matches.
        const ids = Object.values(known).flat();
        return schema.pattern === idPattern.source && ids.length > 0
          ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: generated })
          : generated;
      }
      const text = fc.string({ minLength: schema.minLength ?? 0, maxLength: schema.maxLength ?? 20 });
      return pattern ? text.filter((value) => pattern.test(value)) : text;
    }
    case 'number':
      return fc.double({
        min: schema.minimum ?? schema.exclusiveMinimum ?? -1e9,
        max: schema.maximum ?? schema.exclusiveMaximum ?? 1e9,
        minExcluded: schema.exclusiveMinimum !== undefined,
        maxExcluded: schema.exclusiveMaximum !== undefined,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valueOf(schema.items ?? {}), {
        minLength: schema.minItems ?? 0,
        maxLength: schema.maxItems ?? 5,
      });
    case 'object': {
      const properties = schema.properties ?? {};
      const model = Object.fromEntries(
        Object.entries(properties).map(([key, value]) => [key, valueOf(value)]),
      );
      return fc.record(model, { requiredKeys: schema.required ?? [], noNullPrototype: true });
    }
    default:
      return fc.jsonValue();
  }
}

/** A value of another JSON type than the schema's. */
function wrongType(schema: Schema): unknown {
  switch (schema.type) {
    case 'string':
      return 42;
    case 'number':
    case 'integer':
      return '7';
    case 'boolean':
      return 'true';
    case 'array':
      return { item: 1 };
    default:
      return ['x'];
  }
}

/** Values just outside the schema's bounds. */
function outOfRange(schema: Schema): unknown[] {
  const values: unknown[] = [];
  if (schema.enum) values.push('not-one-of-them');
  if (schema.maxLength !== undefined) values.push('x'.repeat(schema.maxLength + 1));
  if (schema.minLength !== undefined && schema.minLength > 0) values.push('');
  if (schema.pattern !== undefined) values.push(' \t ');
  if (schema.maximum !== undefined) values.push(schema.maximum + 1);
  if (schema.minimum !== undefined) values.push(schema.minimum - 1);
  if (schema.exclusiveMinimum !== undefined) values.push(schema.exclusiveMinimum);
  if (schema.exclusiveMaximum !== undefined) values.push(schema.exclusiveMaximum);
  if (schema.type === 'integer') values.push(1.5);
  if (schema.minItems !== undefined && schema.minItems > 0) values.push([]);
  if (schema.maxItems !== undefined) {
    const item = schema.items ? resolve(schema.items).enum?.[0] : undefined;
    values.push(Array.from({ length: schema.maxItems + 1 }, () => item ?? 1));
  }
  return values;
}

interface Broken {
  rule: string;
  field: string;
  value: unknown;
}

/** Every way to break `value` by one rule of `schema`, at every object within it. */
function breakings(raw: Schema, value: unknown, field: string): Broken[] {
  const schema = resolve(raw);
  if (schema.type !== 'object' || typeof value !== 'object' || value === null || Array.isArray(value))
    return [];
  const object = value as Record<string, unknown>;
  const properties = schema.properties ?? {};
  const change = (key: string, to: unknown) => ({ ...object, [key]: to });
  const found: Broken[] = [];
  for (const key of schema.required ?? []) {
    const without = Object.fromEntries(Object.entries(object).filter(([name]) => name !== key));
    found.push({ rule: `required ${field}.${key} left out`, field: `${field}.${key}`, value: without });
  }
  if (schema.additionalProperties === false)
    found.push({ rule: `unknown key in ${field}`, field: `${field}.surprise`, value: change('surprise', 1) });
  for (const [key, property] of Object.entries(properties)) {
    const resolved = resolve(property);
    found.push({
      rule: `${field}.${key} of a wrong type`,
      field: `${field}.${key}`,
      value: change(key, wrongType(resolved)),
    });
    for (const bad of outOfRange(resolved))
      found.push({ rule: `${field}.${key} out of range`, field: `${field}.${key}`, value: change(key, bad) });
    if (key in object) {
      for (const inner of breakings(resolved, object[key], `${field}.${key}`))
        found.push({ ...inner, value: change(key, inner.value) });
    }
  }
  return found;
}

// ---- Requests from the document --------------------------------------------------------------

function pathParameter(template: string): fc.Arbitrary<string> {
  const resource = template.split('/')[1] ?? '';
  const ids = known[resource] ?? [];
  const generated = fc.stringMatching(idPattern);
  return ids.length > 0
    ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: generated })
    : generated;
}

/** Ids that break the id rule; never a dot segment alone, which the client would resolve away. */
function badIds(): fc.Arbitrary<string> {
  const odd = fc.constantFrom(' ', '.', '~', '!', '*', "'", 'é', '%', ':', '@', '+', ',');
  return fc
    .oneof(
      fc.tuple(fc.stringMatching(idPattern), odd).map(([id, bad]) => `${id}${bad}${id}`),
      fc.string({ unit: fc.constantFrom('a', 'Z', '7', '_'), minLength: 65, maxLength: 300 }),
    )
    .filter((id) => !idPattern.test(id));
}

const fill = (template: string, id: string) => template.replace('{id}', encodeURIComponent(id));

function queryOf(parameters: Parameter[]): fc.Arbitrary<Record<string, string>> {
  const model = Object.fromEntries(
    parameters.map((parameter) => [parameter.name, valueOf(parameter.schema).map(String)]),
  );
  const required = parameters.filter((parameter) => parameter.required).map((parameter) => parameter.name);
  return fc.record(model, { requiredKeys: required, noNullPrototype: true });
}

const withQuery = (path: string, query: Record<string, string>) => {
  const search = new URLSearchParams(query).toString();
  return search ? `${path}?${search}` : path;
};

const jsonTypes = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON');

function probesOf(template: string, method: string, operation: OperationSpec): fc.Arbitrary<Probe>[] {
  const upper = method.toUpperCase();
  const query = (operation.parameters ?? []).filter((parameter) => parameter.in === 'query');
  const validatesPath = (operation.parameters ?? []).some((parameter) => parameter.in === 'path');
  const bodySchema = operation.requestBody?.content['application/json'].schema;
  const path = template.includes('{id}')
    ? pathParameter(template).map((id) => fill(template, id))
    : fc.constant(template);
  const body: fc.Arbitrary<Body> = bodySchema
    ? fc.record(
        { kind: fc.constant('json' as const), value: valueOf(bodySchema), contentType: jsonTypes },
        { noNullPrototype: true },
      )
    : fc.constant({ kind: 'none' as const });
  const base = { method: upper, template };
  const probes: fc.Arbitrary<Probe>[] = [
    fc
      .record({ path, query: queryOf(query), body })
      .map(({ path, query, body }) => ({ ...base, rule: 'valid', path: withQuery(path, query), body })),
  ];
  if (validatesPath) {
    probes.push(
      badIds().map((id) => ({
        ...base,
        rule: 'bad path id',
        path: fill(template, id),
        body: { kind: 'none' },
        expect: 400,
        field: 'path.id',
      })),
    );
  }
  for (const parameter of query) {
    const bad = [...outOfRange(resolve(parameter.schema)), 'not a number'];
    probes.push(
      fc.record({ path, value: fc.constantFrom(...bad) }).map(({ path, value }) => ({
        ...base,
        rule: `query ${parameter.name} out of range`,
        path: withQuery(path, { [parameter.name]: String(value) }),
        body: { kind: 'none' },
        expect: 400,
        field: `query.${parameter.name}`,
      })),
    );
  }
  if (bodySchema) {
    const broken = valueOf(bodySchema).chain((value) =>
      fc.constantFrom<Broken>(
        ...breakings(bodySchema, value, 'body'),
        ...[[], 'text', 42, null].map((other) => ({
          rule: 'body not an object',
          field: 'body',
          value: other,
        })),
      ),
    );
    probes.push(
      fc.record({ path, broken }).map(({ path, broken }) => ({
        ...base,
        rule: broken.rule,
        path,
        body: { kind: 'json', value: broken.value, contentType: 'application/json' },
        expect: 400,
        field: broken.field,
      })),
      fc.record({ path, blank: fc.constantFrom(undefined, '', '  ') }).map(({ path, blank }) => ({
        ...base,
        rule: 'required body missing',
        path,
        body:
          blank === undefined
            ? { kind: 'none' }
            : { kind: 'text', text: blank, contentType: 'application/json' },
        expect: 400,
        field: 'body',
      })),
      path.map((path) => ({
        ...base,
        rule: 'malformed JSON',
        path,
        body: { kind: 'text', text: '{"name": ', contentType: 'application/json' },
        expect: 400,
        field: 'body',
      })),
    );
  }
  if (upper === 'POST' || upper === 'PUT' || upper === 'PATCH') {
    const type = fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
      'application/json-seq',
    );
    probes.push(
      fc.record({ path, type, body }).map(({ path, type, body }) => ({
        ...base,
        rule: 'body not JSON by its type',
        path,
        body: {
          kind: 'text',
          text: JSON.stringify(body.kind === 'json' ? body.value : { a: 1 }),
          contentType: type,
        },
        expect: 415,
      })),
      fc.record({ path, chunked: fc.boolean() }).map(({ path, chunked }) => ({
        ...base,
        rule: 'body over the limit',
        path,
        body: { kind: 'oversize', chunked },
        expect: 413,
      })),
    );
  }
  return probes;
}

/** Methods a path does not have, with any body: the 405 comes first. */
function wrongMethods(
  template: string,
  item: Record<string, OperationSpec>,
): fc.Arbitrary<Probe> | undefined {
  const lacking = httpMethods.filter((method) => !(method.toLowerCase() in item));
  if (lacking.length === 0) return undefined;
  const path = template.includes('{id}')
    ? pathParameter(template).map((id) => fill(template, id))
    : fc.constant(template);
  const body = fc.constantFrom<Body>(
    { kind: 'none' },
    { kind: 'json', value: { name: 'x' }, contentType: 'application/json' },
    { kind: 'text', text: 'not json', contentType: 'text/plain' },
    { kind: 'oversize', chunked: false },
  );
  return fc.record({ method: fc.constantFrom(...lacking), path, body }).map(({ method, path, body }) => ({
    rule: 'method the path lacks',
    method,
    path,
    template,
    // GET and HEAD carry no body in fetch.
    body: method === 'GET' || method === 'HEAD' ? { kind: 'none' } : body,
    expect: 405,
  }));
}

function templateMatcher(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
}

function unknownPaths(): fc.Arbitrary<Probe> {
  const matchers = Object.keys(document.paths).map(templateMatcher);
  const segment = fc.oneof(
    fc.constantFrom('pipelines', 'bots', 'executions', 'portfolio', 'health', 'admin', 'start', 'v1'),
    fc.stringMatching(/^[a-z0-9-]{1,12}$/),
  );
  const path = fc
    .array(segment, { minLength: 1, maxLength: 4 })
    .map((segments) => `/${segments.join('/')}`)
    .filter((path) => !matchers.some((matcher) => matcher.test(path)));
  const method = fc.constantFrom(...httpMethods);
  return fc.record({ method, path }).map(({ method, path }) => ({
    rule: 'unknown path',
    method,
    path,
    template: undefined,
    body:
      method === 'POST' || method === 'PUT' || method === 'PATCH'
        ? { kind: 'json', value: { name: 'x' }, contentType: 'application/json' }
        : { kind: 'none' },
    expect: 404,
  }));
}

// ---- Sending and checking ---------------------------------------------------------------------

function requestInit(probe: Probe): RequestInit {
  const { body } = probe;
  switch (body.kind) {
    case 'none':
      return { method: probe.method };
    case 'json':
      return {
        method: probe.method,
        body: JSON.stringify(body.value),
        headers: { 'content-type': body.contentType },
      };
    case 'text':
      return { method: probe.method, body: body.text, headers: { 'content-type': body.contentType } };
    case 'oversize': {
      const text = JSON.stringify({ name: 'x'.repeat(bodyLimitBytes + 4_000) });
      const headers = { 'content-type': 'application/json' };
      if (!body.chunked) return { method: probe.method, body: text, headers };
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });
      // A stream has no length: it goes in chunks, and the limit holds for what arrives.
      return { method: probe.method, body: stream, headers, duplex: 'half' };
    }
  }
}

function declaredMethods(template: string): string[] {
  return Object.keys(document.paths[template] ?? {})
    .map((method) => method.toUpperCase())
    .sort();
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Checks one answer against the document; a failure names the probe, the answer and the rule. */
function check(probe: Probe, answer: Answer): void {
  const where = `${probe.method} ${probe.path} (${probe.rule}) → ${answer.status} ${answer.text.slice(0, 300)}`;
  assert.ok(answer.status < 500, `a 5xx: ${where}`);
  if (probe.expect !== undefined)
    assert.equal(answer.status, probe.expect, `not the status the rule calls for: ${where}`);
  else assert.ok(![400, 405, 413, 415].includes(answer.status), `a valid request refused: ${where}`);

  let declared: { response: ResponseSpec; at: string };
  if (probe.expect === 404 && probe.template === undefined)
    declared = responseOf({ $ref: '#/components/responses/NotFound' });
  else if (probe.expect === 405) declared = responseOf({ $ref: '#/components/responses/MethodNotAllowed' });
  else {
    const template = probe.template as string;
    const spec = document.paths[template]?.[probe.method.toLowerCase()]?.responses[String(answer.status)];
    assert.ok(spec, `a status ${probe.method} ${template} does not declare: ${where}`);
    declared = responseOf(spec);
    if (declared.at === '')
      declared.at = pointer(
        'paths',
        template,
        probe.method.toLowerCase(),
        'responses',
        String(answer.status),
      );
  }
  for (const header of Object.keys(declared.response.headers ?? {}))
    assert.ok(answer.headers.has(header), `no ${header} header: ${where}`);
  if (answer.headers.has('allow') && probe.template !== undefined) {
    assert.deepEqual(
      answer.headers.get('allow')?.split(', ').sort(),
      declaredMethods(probe.template),
      `Allow: ${where}`,
    );
  }
  if (!declared.response.content || probe.method === 'HEAD') {
    assert.equal(answer.text, '', `a body where none is declared: ${where}`);
    return;
  }
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/, `not JSON: ${where}`);
  const body = JSON.parse(answer.text) as unknown;
  const validate = validators.getSchema(
    `api#${declared.at}${pointer('content', 'application/json', 'schema')}`,
  );
  assert.ok(validate, `no schema at ${declared.at}`);
  assert.ok(
    validate(body),
    `the body breaks its schema (${validators.errorsText(validate.errors)}): ${where}`,
  );
  if (probe.field !== undefined && answer.status === 400) {
    const fields =
      (body as { error: { issues?: { field: string }[] } }).error.issues?.map((issue) => issue.field) ?? [];
    assert.ok(
      fields.some((field) => field.split(', ').some((one) => one.startsWith(probe.field as string))),
      `the 400 does not name ${probe.field} (${fields.join('; ')}): ${where}`,
    );
  }
}

async function send(probe: Probe): Promise<Answer> {
  const response = await fetch(`${api}${probe.path}`, requestInit(probe));
  const answer = { status: response.status, headers: response.headers, text: await response.text() };
  const key =
    probe.template === undefined
      ? 'any method, unknown paths'
      : probe.expect === 405
        ? `other methods ${probe.template}`
        : `${probe.method} ${probe.template}`;
  const statuses = seen.get(key) ?? new Map<number, number>();
  statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
  seen.set(key, statuses);
  return answer;
}

async function created(path: string, body: unknown): Promise<string> {
  const response = await fetch(`${api}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await response.text();
  assert.ok(response.status === 201 || response.status === 202, `${path}: ${response.status} ${text}`);
  return (JSON.parse(text) as { id: string }).id;
}

/** Some of everything for the requests to find: pipelines, a bot on each, an execution. */
async function stock(round: number): Promise<void> {
  const pipelineInput =
    document.paths['/pipelines']?.post?.requestBody?.content['application/json'].schema ?? {};
  for (const input of fc.sample(valueOf(pipelineInput), { seed: seed + round, numRuns: 4 })) {
    const { symbols } = input as { symbols: string[] };
    const pipelineId = await created('/pipelines', { ...(input as object), enabled: true });
    known.pipelines?.push(pipelineId);
    known.bots?.push(await created('/bots', { name: 'contract bot', pipelineId, symbol: symbols[0] }));
  }
  known.executions?.push(await created(`/pipelines/${known.pipelines?.at(-1) ?? ''}/executions`, {}));
}

/** Every kind of request the document allows for, valid ones weighing most. */
function requests(): fc.Arbitrary<Probe> {
  const probes: { arbitrary: fc.Arbitrary<Probe>; weight: number }[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const [valid, ...broken] = probesOf(template, method, operation);
      // Deleting less often than the rest leaves pipelines and bots for the others to find.
      if (valid) probes.push({ arbitrary: valid, weight: method === 'delete' ? 1 : 3 });
      for (const arbitrary of broken) probes.push({ arbitrary, weight: 1 });
    }
    const wrong = wrongMethods(template, item);
    if (wrong) probes.push({ arbitrary: wrong, weight: 2 });
  }
  probes.push({ arbitrary: unknownPaths(), weight: 8 });
  return fc.oneof(...probes);
}

describe('the api answers as its OpenAPI document says', { timeout: 120_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    await startStack(undefined, ['nats', 'api']);
    const response = await fetch(`${api}/openapi.json`);
    assert.equal(response.status, 200);
    document = (await response.json()) as OpenApi;
    assert.equal(document.openapi, '3.1.0');
    validators = new Ajv2020({ allErrors: true, strict: true });
    validators.addFormat('date-time', { validate: (text: string) => !Number.isNaN(Date.parse(text)) });
    // The document's own keys, so that strict mode accepts it as the root of its schemas.
    validators.addVocabulary(['openapi', 'info', 'paths', 'components']);
    validators.addSchema(document, 'api');
    const idParameter = document.paths['/pipelines/{id}']?.get?.parameters?.find((p) => p.name === 'id');
    assert.ok(idParameter?.schema.pattern, 'the document states the rule of an id');
    idPattern = new RegExp(idParameter.schema.pattern);
    const limit = /\(([\d,]+) bytes\)/.exec(document.components.responses.PayloadTooLarge?.description ?? '');
    assert.ok(limit?.[1], 'the document states the body limit');
    bodyLimitBytes = Number(limit[1].replace(/,/g, ''));
  });

  after(async () => {
    await stopStack();
  });

  it('for generated valid requests, requests that break one rule, wrong methods and unknown paths', async () => {
    process.stdout.write(`# contract: seed ${seed}, ${rounds} rounds of ${runsPerRound} requests\n`);
    // In rounds, each on new pipelines and bots: the requests delete and stop what they find.
    for (let round = 0; round < rounds; round += 1) {
      await stock(round);
      try {
        await fc.assert(
          fc.asyncProperty(requests(), async (probe) => check(probe, await send(probe))),
          // The api keeps state between requests: a shrunk replay would not meet the same state.
          { seed: seed + round, numRuns: runsPerRound, endOnFailure: true },
        );
      } catch (error) {
        process.stdout.write(`# contract failed in round ${round} (CONTRACT_SEED=${seed} to replay)\n`);
        throw error;
      }
    }
    const summary = [...seen]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, statuses]) => `${key} ${JSON.stringify(Object.fromEntries(statuses))}`);
    process.stdout.write(`# answers by operation:\n#   ${summary.join('\n#   ')}\n`);
    const operations = Object.entries(document.paths).flatMap(([template, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${template}`),
    );
    assert.deepEqual(
      operations.filter((operation) => !seen.has(operation)),
      [],
      'operations never sent',
    );
  });
});
