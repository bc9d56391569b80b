// expressToolAuthorization / koaToolAuthorization: a tool list is filtered on whatever response it comes, not only on
// the response of the POST that asked for it. The MCP SDK's StreamableHTTPServerTransport routes each answer by its
// JSON-RPC id to the last POST that used that id (`_requestToStreamMapping`), so a `tools/call` reusing the id of a
// `tools/list` still in flight in its session receives that list on its own response (JSON or SSE).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import bodyParser from '@koa/bodyparser';
import * as mcpErrors from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { Server as McpLowLevelServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, isInitializeRequest, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import Koa from 'koa';
import {
  createVerifier,
  expressToolAuthorization,
  jsonLinesDecisionSink,
  koaBearerAuth,
  koaToolAuthorization,
  mcpTokenVerifier,
  resourceMetadataUrl,
  type Verifier,
} from 'delegation-token-verify';
import { startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, makeKey, mint, type TestKey } from './helpers/tokens.js';

const METADATA = resourceMetadataUrl(AUDIENCE);
const KEY = 'k'.repeat(32);
const REFUND = 'billing.issue_refund';
const LOOKUP = 'billing.refund_lookup';
const EXPORT = 'billing.export';
const TOOLS = [REFUND, LOOKUP, EXPORT];
const LIST_DELAY_MS = 300;

let issuer: FakeIssuer;
let es: TestKey;
let verifier: Verifier;
const servers: Server[] = [];
const lines: string[] = [];

async function listen(server: Server): Promise<string> {
  servers.push(server);
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

/** A server that builds its list from a backend (the answer comes 300 ms later) and whose tools take `arguments.ms`. */
function slowListServer(): McpLowLevelServer {
  const server = new McpLowLevelServer({ name: 'billing', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    await new Promise((resolve) => setTimeout(resolve, LIST_DELAY_MS));
    return { tools: TOOLS.map((name) => ({ name, description: name, inputSchema: { type: 'object' as const } })) };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const ms = Number((request.params.arguments as { ms?: unknown } | undefined)?.ms) || 0;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { content: [{ type: 'text', text: `${request.params.name} done` }] };
  });
  return server;
}

/** The MCP SDK's documented stateful pattern: one transport per session, found by its Mcp-Session-Id. */
function statefulMcp(json: boolean) {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage & { auth?: unknown }, res: ServerResponse, body: unknown): Promise<void> => {
    const session = req.headers['mcp-session-id'];
    let transport = typeof session === 'string' ? transports.get(session) : undefined;
    if (!transport && isInitializeRequest(body)) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: json,
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      transport = created;
      await slowListServer().connect(transport);
    }
    if (!transport) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'no session' }, id: null }));
      return;
    }
    await transport.handleRequest(req as never, res, body);
  };
  const close = async () => {
    for (const transport of transports.values()) await transport.close().catch(() => undefined);
  };
  return { handle, close };
}

const closers: Array<() => Promise<void>> = [];
const decisionSink = () => jsonLinesDecisionSink({ info: (line: string) => lines.push(line) });

function expressStateful(json: boolean) {
  const mcp = statefulMcp(json);
  closers.push(mcp.close);
  const app = express();
  app.use(express.json());
  app.post(
    '/mcp',
    requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl: METADATA }),
    expressToolAuthorization({ resourceMetadataUrl: METADATA, argumentsKey: KEY, onDecision: decisionSink() }),
    (req, res) => void mcp.handle(req, res, req.body),
  );
  return app.listen(0, '127.0.0.1');
}

function koaStateful(json: boolean) {
  const mcp = statefulMcp(json);
  closers.push(mcp.close);
  const app = new Koa();
  app.use(bodyParser());
  app.use(koaBearerAuth(verifier, { resourceMetadataUrl: METADATA }));
  app.use(koaToolAuthorization({ resourceMetadataUrl: METADATA, argumentsKey: KEY, onDecision: decisionSink() }));
  app.use(async (ctx) => {
    ctx.respond = false;
    await mcp.handle(ctx.req, ctx.res, ctx.request.body);
  });
  return app.listen(0, '127.0.0.1');
}

before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
  verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
});
after(async () => {
  for (const close of closers) await close();
  verifier.close();
  for (const s of servers) s.closeAllConnections(), s.close();
  await issuer.close();
});

const tokenFor = (scope: string) => mint({ key: es, issuer: issuer.url, claims: { scope, jti: 'jti-1', act: { sub: 'agent-a' } } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The JSON-RPC messages of an SSE body (its `data`), or of a JSON one. */
function messages(text: string): Array<Record<string, unknown>> {
  if (!/^(event|data|id):/m.test(text)) {
    const parsed = JSON.parse(text) as Record<string, unknown> | Array<Record<string, unknown>>;
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return text
    .split(/\n\n/)
    .map((e) => e.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n'))
    .filter((data) => data.length > 0)
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}
const listed = (m: Record<string, unknown> | undefined) => (m?.result as { tools?: Array<{ name: string }> } | undefined)?.tools?.map((t) => t.name).sort();
const carriesList = (m: Record<string, unknown>) => Array.isArray((m.result as { tools?: unknown } | undefined)?.tools);

for (const [kind, start] of [
  ['express, JSON answers', () => expressStateful(true)],
  ['express, SSE answers', () => expressStateful(false)],
  ['koa, JSON answers', () => koaStateful(true)],
  ['koa, SSE answers', () => koaStateful(false)],
] as const) {
  describe(`a tools/list answer routed to a concurrent tools/call with the same id (stateful MCP SDK server, ${kind})`, () => {
    let url: string;
    let headers: Record<string, string>;
    before(async () => {
      url = await listen(start());
      headers = {
        authorization: `Bearer ${await tokenFor(`${REFUND} ${LOOKUP}`)}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
      };
      const init = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } } }),
      });
      assert.equal(init.status, 200);
      headers['mcp-session-id'] = init.headers.get('mcp-session-id')!;
      await init.text();
      const initialized = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
      assert.equal(initialized.status, 202);
      await initialized.text();
    });

    const send = (body: unknown, signal?: AbortSignal) => fetch(url, { method: 'POST', headers, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

    it('the list the transport puts on the tools/call\'s response is filtered (before: every tool, export included)', async () => {
      // The list alone in the session first: filtered on its own response, as always.
      const alone = await send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
      assert.equal(alone.status, 200);
      assert.deepEqual(listed(messages(await alone.text())[0]), [REFUND, LOOKUP].sort());

      const first = new AbortController();
      const list = send({ jsonrpc: '2.0', id: 7, method: 'tools/list' }, first.signal).then(
        (res) => res.text(),
        () => undefined,
      );
      await sleep(100);
      lines.length = 0;
      // A granted call (decided and logged as usual) reusing the id; it outlasts the list, so the transport, which now
      // maps id 7 to this POST, writes the list answer here.
      const call = await send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: LOOKUP, arguments: { ms: 2 * LIST_DELAY_MS } } });
      assert.equal(call.status, 200);
      const text = await call.text();
      first.abort();
      await list.catch(() => undefined);
      const answered = messages(text);
      const lists = answered.filter(carriesList);
      assert.equal(lists.length, 1, `the transport routed the list to the tools/call (test premise): ${text}`);
      assert.equal(lists[0]!.id, 7);
      assert.deepEqual(listed(lists[0]), [REFUND, LOOKUP].sort(), text);
      assert.ok(!text.includes(EXPORT), text);
      // The call itself was decided exactly once, as before.
      assert.deepEqual(lines.map((l) => (JSON.parse(l) as { tool: string; decision: string }).decision), ['allow']);
    });
  });
}

/**
 * A handler behind the middleware that answers what `arguments.answer` (or the method) names, written exactly as below:
 * a tool list (JSON or SSE, any id), or a body without one (spacing, escapes, a number beyond 2^53).
 */
const VERBATIM_JSON = (id: unknown) => `{"jsonrpc":"2.0", "id":${JSON.stringify(id)},"result":{"content":[{"type":"text","text":"caf\\u00e9 \\/"}],"structuredContent":{"n":12345678901234567891,"f":1.0}}}\n`;
const LIST = (id: unknown) => JSON.stringify({ jsonrpc: '2.0', id, result: { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) } });

function answerAsAsked(body: unknown, res: ServerResponse): void {
  const m = body as { id: unknown; method: string; params?: { arguments?: { answer?: string } } };
  const answer = m.params?.arguments?.answer ?? (m.method === 'tools/call' ? 'json-verbatim' : 'json-list');
  if (answer === 'json-list') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(LIST(m.id))) }).end(LIST(m.id));
  } else if (answer === 'sse-list') {
    // A progress notification, a list under another id (as a transport routing by id would put it here), the answer.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n`);
    res.write(`event: message\nid: e-2\ndata: ${LIST('other')}\n\n`);
    res.end(`event: message\ndata: ${VERBATIM_JSON(m.id).trim()}\n\n`);
  } else if (answer === 'json-verbatim') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(VERBATIM_JSON(m.id));
  } else {
    // Split across writes, and a data field over two lines (WHATWG SSE joins them with a newline), between two JSON
    // tokens: data that is not JSON is not passed.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const text = VERBATIM_JSON(m.id).trim();
    res.write(`id: e-1\ndata: ${text.slice(0, 17)}`);
    res.end(`\ndata: ${text.slice(17)}\n\n`);
  }
}

describe('every answer on a POST is filtered by its shape (a result carrying `tools`), whatever request it answers', () => {
  const at = {} as Record<'express' | 'koa' | 'twice' | 'unauthenticated', string>;
  before(async () => {
    const toolAuthorization = expressToolAuthorization({ resourceMetadataUrl: METADATA });
    const auth = requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl: METADATA });
    const app = express();
    app.post('/mcp', express.json(), auth, toolAuthorization, (req, res) => answerAsAsked(req.body, res));
    at.express = await listen(app.listen(0, '127.0.0.1'));
    // Mounted twice on one route: one filter, the answers the same.
    const twice = express();
    twice.post('/mcp', express.json(), auth, toolAuthorization, toolAuthorization, (req, res) => answerAsAsked(req.body, res));
    at.twice = await listen(twice.listen(0, '127.0.0.1'));
    const koa = new Koa();
    koa.use(bodyParser());
    koa.use(koaBearerAuth(verifier, { resourceMetadataUrl: METADATA }));
    koa.use(koaToolAuthorization({ resourceMetadataUrl: METADATA }));
    koa.use(async (ctx) => {
      ctx.respond = false;
      answerAsAsked(ctx.request.body, ctx.res);
    });
    at.koa = await listen(koa.listen(0, '127.0.0.1'));
    // Misconfigured: no authentication in front. A list on any answer is emptied, as on a GET stream.
    const bare = express();
    bare.post('/mcp', express.json(), toolAuthorization, (req, res) => answerAsAsked(req.body, res));
    at.unauthenticated = await listen(bare.listen(0, '127.0.0.1'));
  });

  const post = async (url: string, body: unknown, token?: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };
  const callWith = (id: unknown, answer: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: LOOKUP, arguments: { answer } } });

  for (const kind of ['express', 'koa', 'twice'] as const) {
    it(`${kind}: a list on a tools/call's, an initialize's or a ping's response (JSON) is filtered, its id kept (before: every tool listed)`, async () => {
      const token = await tokenFor(`${REFUND} ${LOOKUP}`);
      for (const body of [
        callWith(3, 'json-list'),
        { jsonrpc: '2.0', id: 'i', method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
        { jsonrpc: '2.0', id: 4, method: 'ping' },
      ]) {
        const res = await post(at[kind], body, token);
        assert.equal(res.status, 200);
        const [answer] = messages(res.text);
        assert.equal(answer!.id, body.id);
        assert.deepEqual(listed(answer), [REFUND, LOOKUP].sort(), `${body.method}: ${res.text}`);
      }
    });

    it(`${kind}: an event stream carrying a list under another id: that list filtered, every other event as it was, none lost or doubled`, async () => {
      const res = await post(at[kind], callWith(4, 'sse-list'), await tokenFor(LOOKUP));
      assert.equal(res.status, 200);
      const events = res.text.split('\n\n').filter(Boolean);
      assert.equal(events.length, 3, res.text);
      assert.equal(events[0], 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}');
      assert.match(events[1]!, /^event: message\nid: e-2\ndata: /);
      const list = messages(`${events[1]}\n\n`)[0]!;
      assert.equal(list.id, 'other');
      assert.deepEqual(listed(list), [LOOKUP]);
      assert.equal(events[2], `event: message\ndata: ${VERBATIM_JSON(4).trim()}`);
    });

    it(`${kind}: JSON and SSE answers without a tool list reach the client exactly as the handler wrote them`, async () => {
      const token = await tokenFor(LOOKUP);
      const json = await post(at[kind], callWith(5, 'json-verbatim'), token);
      assert.equal(json.status, 200);
      assert.equal(json.text, VERBATIM_JSON(5));
      const sse = await post(at[kind], callWith('6', 'sse-verbatim'), token);
      assert.equal(sse.status, 200);
      const text = VERBATIM_JSON('6').trim();
      assert.equal(sse.text, `id: e-1\ndata: ${text.slice(0, 17)}\ndata: ${text.slice(17)}\n\n`);
    });
  }

  it('the per-call decision is unchanged: a tools/call outside the scopes is still a 403 before any answer', async () => {
    const res = await post(at.express, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: EXPORT, arguments: { answer: 'json-list' } } }, await tokenFor(LOOKUP));
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.text), { error: 'insufficient_scope', error_description: 'insufficient scope' });
  });

  it('without a verified caller (no authentication in front) a list on any answer is emptied; other answers pass as written', async () => {
    const ping = await post(at.unauthenticated, { jsonrpc: '2.0', id: 4, method: 'ping' });
    assert.equal(ping.status, 200);
    assert.deepEqual(listed(messages(ping.text)[0]), []);
    // tools/call and tools/list still need a caller (500, as before).
    assert.equal((await post(at.unauthenticated, callWith(5, 'json-verbatim'))).status, 500);
  });

  it('mounted twice on one response, the middleware wraps it once', () => {
    const auth = { sub: 'u', sid: 's', jti: 'j', clientId: 'c', actors: [{ sub: 'a' }], scopes: [LOOKUP], authorizationDetails: [] };
    const res = {
      statusCode: 200,
      writeHead: () => res,
      write: () => true,
      end: () => res,
      getHeader: () => undefined,
      removeHeader: () => undefined,
      setHeader: () => undefined,
    };
    const toolAuthorization = expressToolAuthorization({ resourceMetadataUrl: METADATA });
    const other = expressToolAuthorization({ resourceMetadataUrl: METADATA });
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: LOOKUP, arguments: {} } };
    toolAuthorization({ auth, body, method: 'POST' }, res, () => undefined);
    const wrapped = { writeHead: res.writeHead, write: res.write, end: res.end };
    other({ auth, body: undefined, method: 'GET' }, res, () => undefined);
    toolAuthorization({ auth, body, method: 'POST' }, res, () => undefined);
    assert.deepEqual({ writeHead: res.writeHead, write: res.write, end: res.end }, wrapped);
  });
});
