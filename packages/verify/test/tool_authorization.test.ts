// expressToolAuthorization / koaToolAuthorization in front of the real MCP SDK server (Streamable HTTP, JSON and SSE
// answers), with tokens signed by a fake issuer: exact 403 challenges and bodies, filtered tools/list, decision lines.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import bodyParser from '@koa/bodyparser';
import * as mcpErrors from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import Koa from 'koa';
import { z } from 'zod';
import {
  createVerifier,
  expressToolAuthorization,
  jsonLinesDecisionSink,
  koaBearerAuth,
  koaToolAuthorization,
  mcpAuth,
  mcpTokenVerifier,
  resourceMetadataUrl,
  type NodeLikeResponse,
  type Verifier,
} from 'delegation-token-verify';
import { startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, defaultClaims, makeKey, mint, signRaw, type TestKey } from './helpers/tokens.js';

const METADATA = resourceMetadataUrl(AUDIENCE);
const KEY = 'k'.repeat(32);
const REFUND = 'billing.issue_refund';
const LOOKUP = 'billing.refund_lookup';
const EXPORT = 'billing.export';
const TOOLS = [REFUND, LOOKUP, EXPORT];

let issuer: FakeIssuer;
let es: TestKey;
let verifier: Verifier;
const servers: Server[] = [];
const lines: string[] = [];
const urls = {} as Record<'json' | 'sse' | 'koa', string>;

/** A per-request MCP server that registers every tool: what the client sees of them is the middleware's doing. */
async function handleMcp(req: import('node:http').IncomingMessage & { auth?: unknown }, res: import('node:http').ServerResponse, body: unknown, json: boolean) {
  const server = new McpServer({ name: 'billing', version: '1.0.0' });
  for (const name of TOOLS) {
    server.registerTool(name, { description: name, inputSchema: { amount: z.number().optional(), customerId: z.string().optional() } }, async (args) => ({
      content: [{ type: 'text', text: JSON.stringify({ ran: name, args }) }],
    }));
  }
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: json });
  res.on('close', () => void transport.close());
  await server.connect(transport);
  await transport.handleRequest(req as never, res, body);
}

async function listen(server: Server): Promise<string> {
  servers.push(server);
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

function expressApp(json: boolean) {
  const app = express();
  app.use(express.json());
  app.post(
    '/mcp',
    requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl: METADATA }),
    expressToolAuthorization({ resourceMetadataUrl: METADATA, argumentsKey: KEY, onDecision: jsonLinesDecisionSink({ info: (line: string) => lines.push(line) }) }),
    (req, res) => void handleMcp(req, res, req.body, json),
  );
  return app.listen(0, '127.0.0.1');
}

function koaApp() {
  const app = new Koa();
  app.use(bodyParser());
  app.use(koaBearerAuth(verifier, { resourceMetadataUrl: METADATA }));
  app.use(koaToolAuthorization({ resourceMetadataUrl: METADATA, argumentsKey: KEY, onDecision: jsonLinesDecisionSink({ info: (line: string) => lines.push(line) }) }));
  app.use(async (ctx) => {
    ctx.respond = false;
    await handleMcp(Object.assign(ctx.req, { auth: undefined }), ctx.res, ctx.request.body, false);
  });
  return app.listen(0, '127.0.0.1');
}

before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
  verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
  urls.json = await listen(expressApp(true));
  urls.sse = await listen(expressApp(false));
  urls.koa = await listen(koaApp());
});
after(async () => {
  verifier.close();
  for (const s of servers) s.closeAllConnections(), s.close();
  await issuer.close();
});

const LIMITS = [
  { type: 'mcp_tool', locations: [AUDIENCE], actions: [REFUND], arguments: { amount: { maximum: 5000 }, customerId: { enum: ['cus_1001', 'cus_1002'] } } },
  // A downstream hop's limits: another location, never applied here.
  { type: 'mcp_tool', locations: ['https://other.example/mcp'], actions: [LOOKUP], arguments: { customerId: { const: 'nobody' } } },
];

function tokenFor(scope: string, details: unknown = LIMITS) {
  return mint({ key: es, issuer: issuer.url, claims: { scope, authorization_details: details, jti: 'jti-1', act: { sub: 'agent-a', act: { sub: 'agent-0' } } } });
}

async function rpc(url: string, token: string, message: Record<string, unknown>) {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, ...message }),
  });
}

/** The JSON-RPC message of a JSON or SSE answer. */
async function message(res: Response): Promise<{ result?: { tools?: Array<{ name: string }>; content?: Array<{ text: string }> }; error?: unknown }> {
  const text = await res.text();
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return JSON.parse(text);
  const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  assert.equal(data.length, 1, text);
  return JSON.parse(data[0]!);
}

const call = (name: string, args: unknown) => ({ method: 'tools/call', params: { name, arguments: args } });

/** A tools/call body whose arguments end in `note`, arrays nested DEPTH deep: written as text, since JSON.stringify cannot. */
const DEPTH = 6000;
const NOTE = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
const deepCall = (name: string) => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${name}","arguments":{"customerId":"cus_1001","amount":3000,"note":${NOTE}}}}`;
/** What the decision log digests for `deepCall`: the canonical arguments, names sorted. */
const DEEP_CANONICAL = `{"amount":3000,"customerId":"cus_1001","note":${NOTE}}`;
const hmac = (canonical: string) => createHmac('sha256', KEY).update(canonical).digest('base64url');

async function rpcText(url: string, token: string, body: string) {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body,
  });
}

for (const kind of ['json', 'sse', 'koa'] as const) {
  describe(`tool authorization (${kind})`, () => {
    it('AD-04: a call within the limits reaches the tool', async () => {
      const token = await tokenFor(`${REFUND} ${LOOKUP}`);
      const res = await rpc(urls[kind], token, call(REFUND, { amount: 3000, customerId: 'cus_1001' }));
      assert.equal(res.status, 200);
      const body = await message(res);
      assert.deepEqual(JSON.parse(body.result!.content![0]!.text), { ran: REFUND, args: { amount: 3000, customerId: 'cus_1001' } });
    });

    it('AD-04: arguments outside the limits → 403 insufficient_authorization_details, no scope, the argument and limit named', async () => {
      const token = await tokenFor(`${REFUND} ${LOOKUP}`);
      const res = await rpc(urls[kind], token, call(REFUND, { amount: 50000, customerId: 'cus_1001' }));
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_authorization_details", resource_metadata="${METADATA}"`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await res.json(), {
        error: 'insufficient_authorization_details',
        error_description: 'arguments outside the authorized limits',
        tool: REFUND,
        violations: [{ argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5000 }],
      });
      const missing = await rpc(urls[kind], token, call(REFUND, { amount: 10 }));
      assert.equal(missing.status, 403);
      assert.deepEqual(((await missing.json()) as { violations: unknown }).violations, [{ argument: 'customerId', path: '/customerId', keyword: 'required', limit: 'customerId' }]);
    });

    it('MCP-03: a tool outside the scopes → 403 insufficient_scope with that tool as the scope', async () => {
      const token = await tokenFor(LOOKUP);
      const res = await rpc(urls[kind], token, call(REFUND, { amount: 1, customerId: 'cus_1001' }));
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="${REFUND}", resource_metadata="${METADATA}"`);
      assert.deepEqual(await res.json(), { error: 'insufficient_scope', error_description: 'insufficient scope' });
      // Never "tool not found", even for a tool the server does not have.
      const unknown = await rpc(urls[kind], token, call('billing.nope', {}));
      assert.equal(unknown.status, 403);
      assert.equal(unknown.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="billing.nope", resource_metadata="${METADATA}"`);
    });

    it('MCP-03: a tool name that is no RFC 6750 scope-token (quote, CR LF, non-ASCII) → the same 403 without scope', async () => {
      const token = await tokenFor(LOOKUP);
      for (const name of ['billing."x\\y', 'billing.x\r\nSet-Cookie: s=1', 'billing.工具']) {
        const res = await rpc(urls[kind], token, call(name, {}));
        assert.equal(res.status, 403, JSON.stringify(name));
        assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_scope", resource_metadata="${METADATA}"`);
        assert.equal(res.headers.get('set-cookie'), null);
        assert.deepEqual(await res.json(), { error: 'insufficient_scope', error_description: 'insufficient scope' });
      }
      // Every character of a scope-token still names the scope.
      const edge = 'billing.!#[]~';
      const named = await rpc(urls[kind], token, call(edge, {}));
      assert.equal(named.status, 403);
      assert.equal(named.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="${edge}", resource_metadata="${METADATA}"`);
    });

    it('arguments nested 6,000 deep are decided like any others: allowed within scope and limits, logged with their digest', async () => {
      const token = await tokenFor(`${REFUND} ${LOOKUP}`);
      lines.length = 0;
      const res = await rpcText(urls[kind], token, deepCall(REFUND));
      assert.equal(res.status, 200);
      // The tool's input schema keeps only the arguments it declares.
      assert.deepEqual(JSON.parse((await message(res)).result!.content![0]!.text), { ran: REFUND, args: { amount: 3000, customerId: 'cus_1001' } });
      assert.equal(lines.length, 1);
      const logged = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.deepEqual({ ...logged, time: undefined }, {
        time: undefined, sub: 'user-1', sid: 'sess-1', actors: [{ sub: 'agent-a' }, { sub: 'agent-0' }], client_id: 'agent-a', jti: 'jti-1',
        tool: REFUND, decision: 'allow', reasons: [], arguments_hmac: hmac(DEEP_CANONICAL),
      });
    });

    it('arguments nested 6,000 deep for a tool outside the scopes → the same 403 insufficient_scope, and a deny line', async () => {
      const token = await tokenFor(LOOKUP);
      lines.length = 0;
      const res = await rpcText(urls[kind], token, deepCall(REFUND));
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="${REFUND}", resource_metadata="${METADATA}"`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await res.json(), { error: 'insufficient_scope', error_description: 'insufficient scope' });
      assert.equal(lines.length, 1);
      const logged = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.deepEqual({ ...logged, time: undefined }, {
        time: undefined, sub: 'user-1', sid: 'sess-1', actors: [{ sub: 'agent-a' }, { sub: 'agent-0' }], client_id: 'agent-a', jti: 'jti-1',
        tool: REFUND, decision: 'deny', reasons: ['insufficient_scope'], arguments_hmac: hmac(DEEP_CANONICAL),
      });
    });

    it('entries for another location are ignored: the lookup tool is limited by scope only', async () => {
      const token = await tokenFor(`${REFUND} ${LOOKUP}`);
      const res = await rpc(urls[kind], token, call(LOOKUP, { customerId: 'cus_1002' }));
      assert.equal(res.status, 200);
      assert.equal(JSON.parse((await message(res)).result!.content![0]!.text).ran, LOOKUP);
    });

    it('AD-04: tools/list shows exactly the tools tools/call would allow (constrained ones included)', async () => {
      const token = await tokenFor(`${REFUND} ${LOOKUP}`);
      const res = await rpc(urls[kind], token, { method: 'tools/list', params: {} });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), null);
      assert.match(res.headers.get('content-type') ?? '', kind === 'json' ? /^application\/json/ : /^text\/event-stream/);
      const names = (await message(res)).result!.tools!.map((t) => t.name).sort();
      assert.deepEqual(names, [REFUND, LOOKUP]);
      const exportCall = await rpc(urls[kind], token, call(EXPORT, {}));
      assert.equal(exportCall.status, 403);
    });

    it('AD-04: tools/list leaves out a tool whose only entry holds a limit no call can meet (every call of it is refused)', async () => {
      const never = [{ type: 'mcp_tool', locations: [AUDIENCE], actions: [REFUND], arguments: { amount: { minimum: 10, maximum: 5 } } }];
      const token = await tokenFor(`${REFUND} ${LOOKUP}`, never);
      const res = await rpc(urls[kind], token, { method: 'tools/list', params: {} });
      assert.equal(res.status, 200);
      assert.deepEqual((await message(res)).result!.tools!.map((t) => t.name), [LOOKUP]);
      for (const amount of [5, 7, 10]) {
        const refused = await rpc(urls[kind], token, call(REFUND, { amount }));
        assert.equal(refused.status, 403);
        assert.equal(((await refused.json()) as { error: string }).error, 'insufficient_authorization_details');
      }
    });
  });
}

describe('decision hook', () => {
  it('one JSON line per decision with the chain, reasons and a keyed HMAC of the canonical arguments, never raw values', async () => {
    lines.length = 0;
    const token = await tokenFor(`${REFUND} ${LOOKUP}`);
    await (await rpc(urls.json, token, call(REFUND, { customerId: 'cus_1001', amount: 3000 }))).text();
    await (await rpc(urls.json, token, call(REFUND, { amount: 50000, customerId: 'cus_1001' }))).text();
    await (await rpc(urls.json, token, { method: 'tools/list', params: {} })).text();
    assert.equal(lines.length, 2);
    const [allow, deny] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(String(allow!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const common = { sub: 'user-1', sid: 'sess-1', actors: [{ sub: 'agent-a' }, { sub: 'agent-0' }], client_id: 'agent-a', jti: 'jti-1', tool: REFUND };
    assert.deepEqual({ ...allow, time: undefined }, {
      ...common, time: undefined, decision: 'allow', reasons: [], arguments_hmac: hmac('{"amount":3000,"customerId":"cus_1001"}'),
    });
    assert.deepEqual({ ...deny, time: undefined }, {
      ...common,
      time: undefined,
      decision: 'deny',
      reasons: ['insufficient_authorization_details'],
      violations: [{ argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5000 }],
      arguments_hmac: hmac('{"amount":50000,"customerId":"cus_1001"}'),
    });
    assert.ok(!lines.join('\n').includes('50000') && !lines.join('\n').includes('cus_1001'), 'no raw argument value in the lines');
  });

  it('refuses a missing or short argumentsKey when a hook is set', () => {
    assert.throws(() => expressToolAuthorization({ resourceMetadataUrl: METADATA, onDecision: () => {} }), TypeError);
    assert.throws(() => expressToolAuthorization({ resourceMetadataUrl: METADATA, onDecision: () => {}, argumentsKey: 'short' }), /at least 32 bytes/);
  });
});

describe('verifier: authorization_details for this audience', () => {
  it('keeps only mcp_tool entries whose locations is the audience; other types and locations are skipped', async () => {
    const token = await tokenFor(REFUND, [...LIMITS, { type: 'payment_initiation', anything: true }]);
    const verified = await verifier.verify(token);
    assert.deepEqual(verified.authorizationDetails, [LIMITS[0]]);
    const plain = await mint({ key: es, issuer: issuer.url, claims: { scope: REFUND } });
    assert.deepEqual((await verifier.verify(plain)).authorizationDetails, []);
  });

  it('refuses the token (invalid claim) when an own entry is not understood or the claim is malformed', async () => {
    const bad: unknown[] = [
      [{ ...LIMITS[0], arguments: { amount: { maximum: 5000, pattern: '^1' } } }],
      [{ ...LIMITS[0], arguments: { amount: { $ref: '#/x' } } }],
      [{ ...LIMITS[0], extra: 1 }],
      [{ ...LIMITS[0], locations: [AUDIENCE, 'https://other.example/mcp'] }],
      [{ type: 'mcp_tool', actions: [REFUND] }],
      [{ locations: [AUDIENCE] }],
      { type: 'mcp_tool' },
      'mcp_tool',
    ];
    for (const details of bad) {
      await assert.rejects(verifier.verify(await tokenFor(REFUND, details)), { code: 'ERR_CLAIM_INVALID' }, JSON.stringify(details));
    }
  });

  // Issue 10 performance: a first-seen token whose details text was checked before reuses that check. It must not
  // excuse anything else: the cache is keyed by the exact top-level text, and everything around it is still read.
  describe('checked details remembered by their text', () => {
    const uncached = () => createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false });
    /** A raw payload: the default claims as JSON, `authorization_details` text spliced in as is, then `extra`. */
    const raw = (detailsText: string, extra = '') => {
      const claims = JSON.stringify({ ...defaultClaims(issuer.url), scope: REFUND });
      return signRaw(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k-es' }), `${claims.slice(0, -1)},"authorization_details":${detailsText}${extra}}`, es);
    };
    const known = JSON.stringify(LIMITS);

    it('tokens carrying the same text share one frozen claim and the same entries; other spellings are equal', async () => {
      const v = uncached();
      try {
        const [a, b] = [await v.verify(await raw(known)), await v.verify(await raw(known))];
        assert.notEqual(a.jti, b.jti);
        assert.equal(a.claims.authorization_details, b.claims.authorization_details);
        assert.equal(a.authorizationDetails, b.authorizationDetails);
        assert.ok(Object.isFrozen(a.claims.authorization_details) && Object.isFrozen((a.claims.authorization_details as object[])[0]));
        assert.deepEqual(a.claims.authorization_details, LIMITS);
        assert.deepEqual(a.authorizationDetails, [LIMITS[0]]);
        // Whitespace, an escaped character, another member order: a text of its own, checked on its own, same value.
        for (const text of [JSON.stringify(LIMITS, null, 1), known.replace('"maximum"', '"m\\u0061ximum"')]) {
          const c = await v.verify(await raw(text));
          assert.deepEqual(c.claims.authorization_details, LIMITS);
          assert.deepEqual(c.authorizationDetails, [LIMITS[0]]);
        }
        assert.deepEqual(Object.keys(a.claims).at(-1), 'authorization_details');
      } finally {
        v.close();
      }
    });

    it('a remembered text does not excuse a bad claim, a copy elsewhere, a repeated name or what follows it', async () => {
      const v = uncached();
      try {
        await v.verify(await raw(known));
        const bad = JSON.stringify([{ ...LIMITS[0], extra: 1 }]);
        // The good text nested in another claim, the top-level claim refused.
        await assert.rejects(v.verify(await raw(bad, `,"x":{"authorization_details":${known}}`)), { code: 'ERR_CLAIM_INVALID' });
        await assert.rejects(v.verify(await raw(bad, `,"y":${JSON.stringify(known)}`)), { code: 'ERR_CLAIM_INVALID' });
        // Repeated names around or inside a remembered text.
        await assert.rejects(v.verify(await raw(known, `,"sub":"admin"`)), { code: 'ERR_TOKEN_MALFORMED' });
        await assert.rejects(v.verify(await raw(known, `,"authorization_details":${bad}`)), { code: 'ERR_TOKEN_MALFORMED' });
        await assert.rejects(v.verify(await raw(known.replace('"maximum":5000', '"maximum":5000,"maximum":9e9'))), { code: 'ERR_TOKEN_MALFORMED' });
        // The remembered text followed by anything that makes the payload not JSON.
        for (const extra of [']', '1', ',', ']]', '}', ',"z"']) await assert.rejects(v.verify(await raw(known, extra)), { code: 'ERR_TOKEN_MALFORMED' }, extra);
        // And a refused claim is refused every time (only passes are remembered).
        await assert.rejects(v.verify(await raw(bad)), { code: 'ERR_CLAIM_INVALID' });
        await assert.rejects(v.verify(await raw(bad)), { code: 'ERR_CLAIM_INVALID' });
        assert.deepEqual((await v.verify(await raw(known))).authorizationDetails, [LIMITS[0]]);
      } finally {
        v.close();
      }
    });

    it('an escaped member name is the same claim: checked as usual, never looked up', async () => {
      const v = uncached();
      try {
        await v.verify(await raw(known));
        const claims = JSON.stringify({ ...defaultClaims(issuer.url), scope: REFUND }).slice(0, -1);
        const escaped = (text: string) => signRaw(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k-es' }), `${claims},"authorization\\u005fdetails":${text}}`, es);
        await assert.rejects(v.verify(await escaped(JSON.stringify([{ ...LIMITS[0], extra: 1 }]))), { code: 'ERR_CLAIM_INVALID' });
        assert.deepEqual((await v.verify(await escaped(known))).authorizationDetails, [LIMITS[0]]);
      } finally {
        v.close();
      }
    });
  });
});

describe('tools/list answers replayed on a stream (MCP Streamable HTTP, "Resumability and Redelivery")', () => {
  // What a transport with an event store writes on a GET with Last-Event-ID: earlier answers, a tools/list one among
  // them (any id: the GET carries no request of its own), then what the server sends later.
  // The line ends of the first event are mixed (LF, then CRLF): still one blank line, one event (WHATWG HTML, SSE).
  const replay = (res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const tools = TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } }));
    res.write(`id: ev-2\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 2, result: { tools } })}\n\r\n`);
    res.end(`id: ev-3\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })}\n\n`);
  };
  const stream = {} as Record<'express' | 'koa' | 'unauthenticated', string>;
  before(async () => {
    const toolAuthorization = expressToolAuthorization({ resourceMetadataUrl: METADATA });
    const app = express();
    app.get('/mcp', requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl: METADATA }), toolAuthorization, (_req, res) => replay(res));
    stream.express = await listen(app.listen(0, '127.0.0.1'));
    const koa = new Koa();
    koa.use(koaBearerAuth(verifier, { resourceMetadataUrl: METADATA }));
    koa.use(koaToolAuthorization({ resourceMetadataUrl: METADATA }));
    koa.use(async (ctx) => {
      ctx.respond = false;
      replay(ctx.res);
    });
    stream.koa = await listen(koa.listen(0, '127.0.0.1'));
    // Misconfigured: no authentication in front. A replayed list is emptied rather than shown unfiltered.
    const bare = express();
    bare.get('/mcp', toolAuthorization, (_req, res) => replay(res));
    stream.unauthenticated = await listen(bare.listen(0, '127.0.0.1'));
  });

  const replayed = async (url: string, token?: string) => {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', 'last-event-id': 'ev-1', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    assert.equal(res.status, 200);
    const events = (await res.text()).split(/\n\r?\n/).filter(Boolean);
    assert.equal(events.length, 2);
    // The event ids stay; only the list is rewritten, the notification passes as it was.
    assert.match(events[0]!, /^id: ev-2\ndata: /);
    assert.deepEqual(JSON.parse(events[1]!.split('\ndata: ')[1]!), { jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    const list = JSON.parse(events[0]!.split('\ndata: ')[1]!) as { id: number; result: { tools: Array<{ name: string }> } };
    assert.equal(list.id, 2);
    return list.result.tools.map((t) => t.name).sort();
  };

  for (const kind of ['express', 'koa'] as const) {
    it(`${kind}: a GET's replayed tools/list shows exactly the tools tools/call would allow`, async () => {
      assert.deepEqual(await replayed(stream[kind], await tokenFor(`${REFUND} ${LOOKUP}`)), [REFUND, LOOKUP]);
      assert.deepEqual(await replayed(stream[kind], await tokenFor(LOOKUP)), [LOOKUP]);
    });
  }

  it('without a verified caller (no authentication in front) a replayed list is emptied', async () => {
    assert.deepEqual(await replayed(stream.unauthenticated), []);
  });
});

describe('a message no JSON parser built is refused, never handed on undecided (MCP Streamable HTTP: POST bodies are JSON-RPC)', () => {
  // express.json() (type-is) does not read `application/json\u00a0` as JSON and leaves req.body undefined; the MCP SDK's
  // transport trims the header, accepts it and, given no parsed body, reads and runs the raw one itself.
  const ODD_TYPES = ['application/json\u00a0', 'application/json\u00a0; charset=utf-8'];
  let mcpAuthUrl: string;
  before(async () => {
    // The DPoP-capable setup of docs/verify-sdk.md: express.json() on the route, mcpAuth, then the tool authorization.
    const app = express();
    app.post('/mcp', express.json(), mcpAuth(verifier, { resourceMetadataUrl: METADATA }), expressToolAuthorization({ resourceMetadataUrl: METADATA }),
      (req, res) => void handleMcp(req, res, req.body, true));
    mcpAuthUrl = await listen(app.listen(0, '127.0.0.1'));
  });

  const send = (url: string, token: string, contentType: string, message: Record<string, unknown>) =>
    fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType, accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, ...message }),
    });

  for (const kind of ['json', 'sse', 'koa', 'mcpAuth'] as const) {
    it(`${kind}: Content-Type "application/json\\u00a0" → 415 invalid_request with Accept, no tool runs, no decision line; application/json still decides`, async () => {
      const url = kind === 'mcpAuth' ? mcpAuthUrl : urls[kind];
      const token = await tokenFor(`${REFUND} ${LOOKUP}`);
      lines.length = 0;
      for (const contentType of ODD_TYPES) {
        // Outside the limits, outside the scopes, and within both: all refused alike, since none of them was decided.
        for (const message of [call(REFUND, { amount: 999999, customerId: 'cus_1001' }), call(EXPORT, {}), call(REFUND, { amount: 1, customerId: 'cus_1001' })]) {
          const res = await send(url, token, contentType, message);
          assert.equal(res.status, 415, `${JSON.stringify(contentType)} ${JSON.stringify(message)}`);
          assert.equal(res.headers.get('accept'), 'application/json');
          assert.equal(res.headers.get('www-authenticate'), null);
          assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
          assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'the body must be a JSON-RPC message sent as application/json' });
        }
      }
      assert.deepEqual(lines, []);
      const refused = await send(url, token, 'application/json', call(REFUND, { amount: 999999, customerId: 'cus_1001' }));
      assert.equal(refused.status, 403);
      const allowed = await send(url, token, 'application/json', call(REFUND, { amount: 1, customerId: 'cus_1001' }));
      assert.equal(allowed.status, 200);
      assert.equal(JSON.parse((await message(allowed)).result!.content![0]!.text).ran, REFUND);
    });
  }

  it('the rule by method and body: only GET, HEAD and DELETE (no message in MCP Streamable HTTP) go on without a parsed body', () => {
    const auth = { sub: 'u', sid: 's', jti: 'j', clientId: 'c', actors: [{ sub: 'a' }], scopes: [LOOKUP], authorizationDetails: [] };
    const outcome = (method: string | undefined, body: unknown) => {
      const res = fakeResponse();
      let passed = false;
      expressToolAuthorization({ resourceMetadataUrl: METADATA })({ auth, body, ...(method === undefined ? {} : { method }) }, res, () => (passed = true));
      return passed ? 'next' : res.statusCode;
    };
    for (const body of [undefined, {}, Object.create(null), '{"jsonrpc":"2.0"}', Buffer.from('{}'), null, 1, new (class Message { jsonrpc = '2.0'; })()]) {
      for (const method of ['POST', 'post', 'PUT', 'PATCH', 'OPTIONS']) assert.equal(outcome(method, body), 415, `${method} ${inspect(body)}`);
    }
    for (const method of ['GET', 'get', 'HEAD', 'DELETE']) assert.equal(outcome(method, undefined), 'next', method);
    // A caller that parsed the message itself and names no method (the gateway's GET stream) is taken at its word.
    assert.equal(outcome(undefined, undefined), 'next');
    // Parsed bodies are decided as before, notifications and batches included.
    assert.equal(outcome('POST', { jsonrpc: '2.0', method: 'notifications/initialized' }), 'next');
    assert.equal(outcome('POST', [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: LOOKUP, arguments: {} } }]), 'next');
    assert.equal(outcome('POST', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: REFUND, arguments: {} } }), 403);
  });
});

/** A node-like response that records what the middleware writes. */
function fakeResponse() {
  const headers: Record<string, string> = {};
  return {
    statusCode: 200,
    headers,
    body: undefined as string | undefined,
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
    },
    end(chunk?: string) {
      this.body = chunk;
    },
    writeHead() {
      return this;
    },
    write() {
      return true;
    },
    getHeader() {
      return undefined;
    },
    removeHeader() {},
  };
}

describe('RFC 9449 §7.1: the 403 to a DPoP-bound caller carries algs, as the 401/403 of the token middlewares do', () => {
  const bound = { sub: 'u', sid: 's', jti: 'j', clientId: 'c', actors: [{ sub: 'a' }], scopes: [REFUND], authorizationDetails: LIMITS.slice(0, 1), jkt: 'x'.repeat(43) };
  const refuse = (options: Partial<Parameters<typeof expressToolAuthorization>[0]>, auth: object, params: Record<string, unknown>) => {
    const res = fakeResponse();
    expressToolAuthorization({ resourceMetadataUrl: METADATA, ...options })({ auth, method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params } }, res, () => assert.fail('next'));
    assert.equal(res.statusCode, 403);
    return res.headers['www-authenticate'];
  };

  it('insufficient_scope and insufficient_authorization_details: DPoP with the verifier default algs, or the ones given', () => {
    const algs = 'algs="ES256 EdDSA RS256 PS256"';
    assert.equal(refuse({}, bound, { name: EXPORT, arguments: {} }), `DPoP error="insufficient_scope", scope="${EXPORT}", ${algs}, resource_metadata="${METADATA}"`);
    assert.equal(refuse({}, bound, { name: REFUND, arguments: { amount: 50000, customerId: 'cus_1001' } }), `DPoP error="insufficient_authorization_details", ${algs}, resource_metadata="${METADATA}"`);
    assert.equal(refuse({ dpopAlgorithms: ['ES256'] }, bound, { name: EXPORT, arguments: {} }), `DPoP error="insufficient_scope", scope="${EXPORT}", algs="ES256", resource_metadata="${METADATA}"`);
    // The same as request_auth's 403 for the verifier's own algorithms.
    const custom = createVerifier({ issuer: issuer.url, audience: AUDIENCE, dpop: { algorithms: ['PS256', 'EdDSA'] } });
    assert.match(refuse({ dpopAlgorithms: custom.dpopAlgorithms }, bound, { name: EXPORT, arguments: {} }) ?? '', / algs="PS256 EdDSA", /);
    custom.close();
    // A Bearer caller's challenge has no algs.
    const { jkt: _, ...bearer } = bound;
    assert.equal(refuse({}, bearer, { name: EXPORT, arguments: {} }), `Bearer error="insufficient_scope", scope="${EXPORT}", resource_metadata="${METADATA}"`);
  });

  it('refuses algorithms the verifier would refuse (none, MACs, nothing), at construction', () => {
    for (const dpopAlgorithms of [['none'], ['HS256'], [], ['ES256"']]) {
      assert.throws(() => expressToolAuthorization({ resourceMetadataUrl: METADATA, dpopAlgorithms }), TypeError, JSON.stringify(dpopAlgorithms));
      assert.throws(() => koaToolAuthorization({ resourceMetadataUrl: METADATA, dpopAlgorithms }), TypeError);
    }
  });
});

describe('maxBufferedBytes: an answer too large for the tool-list filter to hold is never passed unfiltered', () => {
  const told: Array<[string, string]> = [];
  const onAnswerRefused = (res: NodeLikeResponse, reason: 'too_large' | 'not_json' | 'unreadable') => {
    told.push([String((res as unknown as import('node:http').ServerResponse).req.headers['x-case']), reason]);
  };
  const bounded = {} as Record<'json' | 'sse' | 'koa', string>;
  before(async () => {
    for (const json of [true, false]) {
      const app = express();
      app.use(express.json());
      app.post(
        '/mcp',
        requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl: METADATA }),
        expressToolAuthorization({ resourceMetadataUrl: METADATA, maxBufferedBytes: 256, onAnswerRefused }),
        (req, res) => void handleMcp(req, res, req.body, json),
      );
      bounded[json ? 'json' : 'sse'] = await listen(app.listen(0, '127.0.0.1'));
    }
    // Koa writes `ctx.body` itself: `res.end(body)`, no writeHead.
    const koa = new Koa();
    koa.use(koaBearerAuth(verifier, { resourceMetadataUrl: METADATA }));
    koa.use(koaToolAuthorization({ resourceMetadataUrl: METADATA, maxBufferedBytes: 256, onAnswerRefused }));
    koa.use((ctx) => {
      ctx.body = { jsonrpc: '2.0', id: 2, result: { tools: TOOLS.map((name) => ({ name, description: 'x'.repeat(100) })) } };
    });
    bounded.koa = await listen(koa.listen(0, '127.0.0.1'));
  });

  const send = async (kind: 'json' | 'sse', token: string, message: Record<string, unknown>) =>
    fetch(bounded[kind], {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-case': kind },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, ...message }),
    });

  it('JSON (MCP SDK transport): a tools/list answer over the bound is cut, the hook told; a small answer on the same route passes (before: held whole)', async () => {
    told.length = 0;
    const token = await tokenFor(`${REFUND} ${LOOKUP}`);
    // Cut: the status line may or may not have reached the client; never a complete answer.
    await assert.rejects(send('json', token, { method: 'tools/list' }).then((res) => res.text()));
    assert.deepEqual(told, [['json', 'too_large']]);
    const small = await send('json', token, call(LOOKUP, {}));
    assert.equal(small.status, 200);
    assert.match((await message(small)).result?.content?.[0]?.text ?? '', /"ran":"billing.refund_lookup"/);
    assert.deepEqual(told, [['json', 'too_large']]);
  });

  it('SSE (MCP SDK transport): an event over the bound cuts the stream, its headers being out; a small answer passes', async () => {
    told.length = 0;
    const token = await tokenFor(`${REFUND} ${LOOKUP}`);
    // Cut: before the head reached the client (the transport wrote the event at once) or after; never a complete answer.
    await assert.rejects(send('sse', token, { method: 'tools/list' }).then((res) => res.text()));
    assert.deepEqual(told, [['sse', 'too_large']]);
    const small = await send('sse', token, call(LOOKUP, {}));
    assert.equal(small.status, 200);
    assert.match((await message(small)).result?.content?.[0]?.text ?? '', /"ran":"billing.refund_lookup"/);
  });

  it('Koa: a JSON body Koa writes itself (no writeHead) over the bound is cut', async () => {
    told.length = 0;
    await assert.rejects(fetch(bounded.koa, { headers: { authorization: `Bearer ${await tokenFor(LOOKUP)}`, 'x-case': 'koa' } }).then((res) => res.text()));
    assert.deepEqual(told, [['koa', 'too_large']]);
  });

  it('a bound that is not a positive integer is refused at construction', () => {
    for (const maxBufferedBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1024']) {
      assert.throws(() => expressToolAuthorization({ resourceMetadataUrl: METADATA, maxBufferedBytes: maxBufferedBytes as number }), TypeError, String(maxBufferedBytes));
      assert.throws(() => koaToolAuthorization({ resourceMetadataUrl: METADATA, maxBufferedBytes: maxBufferedBytes as number }), TypeError, String(maxBufferedBytes));
    }
  });
});

describe('a handler that fails after writing part of a JSON answer: the framework sees its headers out and adds no second answer', () => {
  /** Everything the server sends on one connection carrying two requests, until it closes (or 1 s passes). */
  const onOneConnection = (url: string, requests: string[]) =>
    new Promise<string>((resolve) => {
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      let out = '';
      const timer = setTimeout(() => socket.destroy(), 1000);
      socket.on('data', (data) => (out += data.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
      socket.on('error', () => undefined);
      socket.write(requests.join(''));
    });
  const partial = `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"${REFUND}","description":"${'d'.repeat(400)}"}`;
  const LIST_REQUEST = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
  let request: string;
  before(async () => {
    const token = await tokenFor(LOOKUP);
    request = `POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${LIST_REQUEST.length}\r\n\r\n${LIST_REQUEST}`;
  });

  it('Express 5 (finalhandler): the connection is closed, no 500 after the partial body, the second request unanswered (before: the head was held, so the error answer of finalhandler, then the answer to the second request, followed on the same connection)', async () => {
    const app = express();
    app.use(express.json());
    let calls = 0;
    app.post('/mcp', requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl: METADATA }), expressToolAuthorization({ resourceMetadataUrl: METADATA }), (_req, res) => {
      if (calls++ > 0) {
        res.json({ second: true });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(partial);
      throw new Error('boom');
    });
    const url = await listen(app.listen(0, '127.0.0.1'));
    const out = await onOneConnection(url, [request, request]);
    assert.equal(out.match(/HTTP\/1\.1 /g)?.length ?? 0, out.length > 0 ? 1 : 0, out);
    assert.doesNotMatch(out, /Internal Server Error|second|HTTP\/1\.1 500/, out);
    assert.doesNotMatch(out, new RegExp(REFUND.replace('.', '\\.')), 'nothing of the unfiltered partial body');
  });

  it('Koa (ctx.onerror): no error answer after the partial body, nothing of it relayed (before: the partial list, unfiltered, then the error answer of Koa and the answer to the second request, on the same connection)', async () => {
    const app = new Koa();
    app.silent = true;
    app.use(bodyParser());
    app.use(koaBearerAuth(verifier, { resourceMetadataUrl: METADATA }));
    app.use(koaToolAuthorization({ resourceMetadataUrl: METADATA }));
    let calls = 0;
    app.use(async (ctx) => {
      if (calls++ > 0) {
        ctx.body = { second: true };
        return;
      }
      ctx.respond = false;
      ctx.res.writeHead(200, { 'content-type': 'application/json' });
      ctx.res.write(partial);
      throw new Error('boom');
    });
    const url = await listen(app.listen(0, '127.0.0.1'));
    const out = await onOneConnection(url, [request, request]);
    assert.ok((out.match(/HTTP\/1\.1 /g)?.length ?? 0) <= 1, out);
    assert.doesNotMatch(out, /Internal Server Error|second|HTTP\/1\.1 500/, out);
    assert.doesNotMatch(out, new RegExp(REFUND.replace('.', '\\.')), 'nothing of the unfiltered partial body');
  });
});
