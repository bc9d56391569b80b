// docs/admin-api.openapi.yaml stays true to the router: the same paths and methods, parameters and error codes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { parse } from 'yaml';
import { ADMIN_ERROR_CODES } from '../../src/admin/errors.js';
import { MAX_LIMIT, DEFAULT_LIMIT } from '../../src/admin/schemas.js';
import { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH } from '../../src/sessions/identifiers.js';
import { adminRouter, type AdminDeps } from '../../src/admin/routes.js';
import type { DecisionEvent } from '../../src/audit/events.js';

interface Operation {
  parameters?: Array<{ $ref?: string; name?: string; in?: string }>;
  responses: Record<string, unknown>;
  requestBody?: unknown;
}
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  security: unknown[];
  components: Record<string, Record<string, any>>;
};

const doc = parse(readFileSync(new URL('../../docs/admin-api.openapi.yaml', import.meta.url), 'utf8')) as Doc;
// Routes are only listed, never called: the dependencies are not needed.
const router = adminRouter({} as AdminDeps);
const routes = router.stack.flatMap((layer) =>
  layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method: method.toLowerCase(), path: String(layer.path).replace(/:(\w+)/g, '{$1}') })),
);
// Every member of every decision event type, checked by the compiler both ways (a missing or unknown key fails tsc).
type EventKey = DecisionEvent extends infer E ? (E extends unknown ? keyof E : never) : never;
const EVENT_KEYS = {
  type: true, time: true, decision: true, reasons: true, requestId: true, clientId: true, sub: true, sid: true, act: true,
  jti: true, jkt: true, error: true, grantType: true, subjectTokenType: true, subjectJti: true, toolServer: true,
  requestedScopes: true, grantedScopes: true, exp: true, durationMs: true, kind: true, value: true, resource: true,
  reason: true, created: true, method: true, path: true, status: true, httpMethod: true, tool: true, uri: true, prompt: true,
  argumentsHmac: true,
} satisfies Record<EventKey, true>;

const resolve = (p: { $ref?: string; name?: string; in?: string }) =>
  p.$ref ? (doc.components.parameters![p.$ref.split('/').pop()!] as { name: string; in: string }) : (p as { name: string; in: string });

describe('admin API OpenAPI document', () => {
  it('is OpenAPI 3.1 with the oauth2 client_credentials scheme (scope admin) applied to everything', () => {
    assert.equal(doc.openapi, '3.1.0');
    const scheme = doc.components.securitySchemes!.adminClientCredentials;
    assert.equal(scheme.type, 'oauth2');
    assert.ok('admin' in scheme.flows.clientCredentials.scopes);
    assert.deepEqual(doc.security, [{ adminClientCredentials: ['admin'] }]);
  });

  it('lists every route of the router, and nothing else', () => {
    assert.ok(routes.length >= 7);
    for (const { method, path } of routes) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is not documented`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    assert.deepEqual(documented.sort(), routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('declares each path parameter, the auth errors, and a JSON body exactly for the POSTs', () => {
    for (const { method, path } of routes) {
      const op = doc.paths[path]![method]!;
      const pathParams = (op.parameters ?? []).map(resolve).filter((p) => p.in === 'path').map((p) => p.name);
      assert.deepEqual(pathParams, [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]), `${method} ${path}`);
      for (const status of ['200', '400', '401', '403', '503']) assert.ok(op.responses[status], `${method} ${path} ${status}`);
      assert.equal(op.requestBody !== undefined, method === 'post', `${method} ${path} body`);
    }
  });

  it('states the same identifier bounds as sessions/identifiers.ts', () => {
    const identifier = doc.components.schemas!.Identifier;
    assert.equal(identifier.maxLength, MAX_IDENTIFIER_LENGTH);
    assert.equal(identifier.minLength, 1);
    // The documented pattern, with the documented length, is the module's pattern.
    assert.equal(`${identifier.pattern.slice(0, -2)}{1,${identifier.maxLength}}$`, IDENTIFIER_PATTERN.source);
  });

  it('states the same limits and error codes as the code', () => {
    assert.deepEqual(doc.components.parameters!.limit.schema, { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT });
    assert.deepEqual(doc.components.schemas!.Error.properties.error.enum, [...ADMIN_ERROR_CODES]);
    assert.deepEqual(doc.components.schemas!.RevokeRequest.properties.reason, { type: 'string', minLength: 1, maxLength: 500, description: doc.components.schemas!.RevokeRequest.properties.reason.description });
  });

  it('every listing takes limit and cursor and answers a page with next, the same way', () => {
    for (const path of ['/admin/sessions', '/admin/audit', '/admin/consents', '/admin/clients']) {
      const op = doc.paths[path]!.get!;
      const refs = (op.parameters ?? []).map((p) => p.$ref);
      assert.ok(refs.includes('#/components/parameters/limit') && refs.includes('#/components/parameters/cursor'), path);
      const ok = op.responses['200'] as { content: Record<string, { schema: { $ref: string } }> };
      const page = doc.components.schemas![ok.content['application/json']!.schema.$ref.split('/').pop()!];
      assert.deepEqual([page.required, page.properties.next], [['items'], { type: 'string', description: 'Absent on the last page.' }], path);
    }
  });

  it('AuditEvent lists exactly the members of the decision events (src/audit/events.ts), plus the stored id and truncated', () => {
    const documented = Object.keys(doc.components.schemas!.AuditEvent.properties).sort();
    assert.deepEqual(documented, [...Object.keys(EVENT_KEYS), 'id', 'truncated'].sort());
  });

  it('is a valid OpenAPI 3.1 document for a real validator (swagger-parser: schema and $refs)', async () => {
    const file = new URL('../../docs/admin-api.openapi.yaml', import.meta.url).pathname;
    await SwaggerParser.validate(file);
  });

  it('has no flow-mapping description that YAML splits into a bogus keyword (every schema key is a JSON Schema keyword)', () => {
    const keywords = new Set([
      'type', 'description', 'properties', 'required', 'items', 'enum', 'const', 'format', 'pattern', 'minLength', 'maxLength',
      'minimum', 'maximum', 'minItems', 'maxItems', 'additionalProperties', 'oneOf', 'anyOf', 'allOf', '$ref', 'example',
      'examples', 'default', 'nullable', 'title', 'readOnly', 'writeOnly', 'deprecated', 'exclusiveMinimum', 'exclusiveMaximum',
    ]);
    const bad: string[] = [];
    const walkSchema = (schema: unknown, path: string): void => {
      if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return;
      const obj = schema as Record<string, unknown>;
      for (const key of Object.keys(obj)) if (!keywords.has(key)) bad.push(`${path}: ${key}`);
      for (const [name, sub] of Object.entries((obj.properties ?? {}) as Record<string, unknown>)) walkSchema(sub, `${path}.properties.${name}`);
      if (typeof obj.additionalProperties === 'object') walkSchema(obj.additionalProperties, `${path}.additionalProperties`);
      walkSchema(obj.items, `${path}.items`);
      for (const k of ['oneOf', 'anyOf', 'allOf']) (obj[k] as unknown[] | undefined)?.forEach((sub, i) => walkSchema(sub, `${path}.${k}[${i}]`));
    };
    for (const [name, schema] of Object.entries(doc.components.schemas ?? {})) walkSchema(schema, `components.schemas.${name}`);
    assert.deepEqual(bad, []);
  });
});
