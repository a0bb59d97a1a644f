/**
 * The OpenAPI 3.1 document, built from the same schemas that validate requests, so it cannot
 * drift from what the api accepts.
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
import { ExecutionListQuery } from './routes/executions.ts';
import { PipelineListQuery } from './routes/pipelines.ts';

const schema = (type: z.ZodType, io: 'input' | 'output' = 'output') =>
  z.toJSONSchema(type, { io, unrepresentable: 'any' });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (body: object) => ({ content: { 'application/json': { schema: body } } });
const error = { description: 'Error', ...json(ref('Error')) };

function parameters(where: 'path' | 'query', object: z.ZodObject) {
  const shape = schema(object, 'input') as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(shape.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (shape.required ?? []).includes(name),
    schema: property,
  }));
}

const idPath = parameters('path', IdParam);
const standardErrors = { 400: error, 404: error, 413: error, 415: error, 500: error };

export function openApiDocument() {
  const lifecycle = (action: string) => ({
    post: {
      summary: `${action} a bot`,
      parameters: idPath,
      responses: { 200: { description: 'The bot', ...json(ref('Bot')) }, 409: error, ...standardErrors },
    },
  });
  return {
    openapi: '3.1.0',
    info: { title: 'Trading platform api', version: '0.1.0' },
    paths: {
      '/pipelines': {
        get: {
          summary: 'List pipelines',
          parameters: parameters('query', PipelineListQuery),
          responses: { 200: { description: 'Pipelines' }, ...standardErrors },
        },
        post: {
          summary: 'Create a pipeline',
          requestBody: json(ref('PipelineInput')),
          responses: { 201: { description: 'Created', ...json(ref('Pipeline')) }, ...standardErrors },
        },
      },
      '/pipelines/{id}': {
        get: {
          summary: 'Get a pipeline',
          parameters: idPath,
          responses: { 200: { description: 'The pipeline', ...json(ref('Pipeline')) }, ...standardErrors },
        },
        put: {
          summary: 'Replace a pipeline',
          parameters: idPath,
          requestBody: json(ref('PipelineInput')),
          responses: { 200: { description: 'Replaced', ...json(ref('Pipeline')) }, ...standardErrors },
        },
        patch: {
          summary: 'Change some fields of a pipeline',
          parameters: idPath,
          requestBody: json(ref('PipelineUpdate')),
          responses: { 200: { description: 'Updated', ...json(ref('Pipeline')) }, ...standardErrors },
        },
        delete: {
          summary: 'Delete a pipeline',
          parameters: idPath,
          responses: { 204: { description: 'Deleted' }, ...standardErrors },
        },
      },
      '/pipelines/{id}/executions': {
        post: {
          summary: 'Trigger an execution by hand',
          parameters: idPath,
          responses: {
            202: { description: 'Queued', ...json(ref('Execution')) },
            409: error,
            ...standardErrors,
          },
        },
      },
      '/executions': {
        get: {
          summary: 'List executions, newest first',
          parameters: parameters('query', ExecutionListQuery),
          responses: { 200: { description: 'Executions' }, ...standardErrors },
        },
      },
      '/executions/{id}': {
        get: {
          summary: 'Get an execution',
          parameters: idPath,
          responses: { 200: { description: 'The execution', ...json(ref('Execution')) }, ...standardErrors },
        },
      },
      '/bots': {
        get: { summary: 'List bots', responses: { 200: { description: 'Bots' } } },
        post: {
          summary: 'Create a bot',
          requestBody: json(ref('BotInput')),
          responses: { 201: { description: 'Created', ...json(ref('Bot')) }, ...standardErrors },
        },
      },
      '/bots/{id}': {
        delete: {
          summary: 'Delete a bot',
          parameters: idPath,
          responses: { 204: { description: 'Deleted' }, ...standardErrors },
        },
        get: {
          summary: 'Get a bot',
          parameters: idPath,
          responses: { 200: { description: 'The bot', ...json(ref('Bot')) }, ...standardErrors },
        },
      },
      '/bots/{id}/start': lifecycle('Start'),
      '/bots/{id}/pause': lifecycle('Pause'),
      '/bots/{id}/stop': lifecycle('Stop'),
      '/portfolio': {
        get: { summary: 'The portfolio at market', responses: { 200: { description: 'Portfolio' } } },
      },
      '/health': { get: { summary: 'Liveness', responses: { 200: { description: 'Alive' } } } },
      '/ready': {
        get: {
          summary: 'Readiness: NATS and set-up',
          responses: { 200: { description: 'Ready' }, 503: { description: 'Not ready' } },
        },
      },
    },
    components: {
      schemas: {
        PipelineInput: schema(PipelineInput, 'input'),
        PipelineUpdate: schema(PipelineUpdate, 'input'),
        Pipeline: schema(Pipeline),
        Execution: schema(Execution),
        BotInput: schema(BotInput, 'input'),
        Bot: schema(Bot),
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                issues: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      field: { type: 'string' },
                      rule: { type: 'string' },
                      message: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
