// The DPoP step in front of oidc-provider's /token in isolation (src/dpop/token_endpoint.ts): which requests it checks,
// that the body reaches what follows unchanged, and its answers (the checker's refusals as they are, outages 503).
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import Koa from 'koa';
import { errors } from 'oidc-provider';
import { pino } from 'pino';
import { errorRenderer } from '../../src/http/app.js';
import { tokenEndpointDpop } from '../../src/dpop/token_endpoint.js';
import type { DpopProofChecker, DpopRequest } from '../../src/dpop/proof.js';
import { SigningUnavailable } from '../../src/keys/jws_thread.js';
import { StoreUnavailable } from '../../src/stores/errors.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const LEDGER = 'https://tools.example/ledger/mcp';

describe('tokenEndpointDpop', () => {
  let base: string;
  let server: import('node:http').Server;
  let checked: DpopRequest[];
  let outcome: () => Promise<unknown>;
  /** What the next middleware (oidc-provider) saw: the body it was handed. */
  let reached: unknown[];

  before(async () => {
    const proofs = {
      check: async (req: DpopRequest) => {
        checked.push(req);
        return outcome();
      },
    } as unknown as DpopProofChecker;
    const app = new Koa();
    app.use(errorRenderer(pino({ level: 'silent' })));
    app.use(tokenEndpointDpop({ proofs, checkedByGrant: new Set([EXCHANGE]), requireDpop: new Set([LEDGER]) }));
    app.use((ctx) => {
      reached.push((ctx.request as { body?: unknown }).body);
      ctx.body = { ok: true };
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    checked = [];
    reached = [];
    outcome = async () => ({ jkt: 'x' });
  });

  const post = async (fields: Record<string, string | string[]>, headers: Record<string, string> = {}, path = '/token') => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };

  it("checks the proof of every grant but the exchange's (its own step checks it), once, and hands the same body on", async () => {
    for (const grant of ['authorization_code', 'refresh_token', 'client_credentials', 'urn:example:unknown']) {
      const res = await post({ grant_type: grant, code: 'a b+c' }, { dpop: 'proof' });
      assert.equal(res.status, 200, grant);
    }
    assert.equal(checked.length, 4);
    assert.deepEqual(checked[0]!.values, ['proof']);
    assert.equal(checked[0]!.method, 'POST');
    assert.deepEqual(reached[0], 'grant_type=authorization_code&code=a+b%2Bc');
    await post({ grant_type: EXCHANGE }, { dpop: 'proof' });
    // Path spellings oidc-provider's router takes as its token endpoint.
    await post({ grant_type: 'client_credentials' }, { dpop: 'proof' }, '/TOKEN/');
    assert.equal(checked.length, 5);
  });

  it('leaves other requests alone: no proof and no requireDpop resource, another path', async () => {
    await post({ grant_type: 'client_credentials', resource: 'https://tools.example/crm/mcp' });
    await post({ grant_type: 'client_credentials' }, { dpop: 'proof' }, '/token/introspection');
    assert.equal(checked.length, 0);
  });

  it("answers the checker's refusal as it is, with its DPoP-Nonce; outages of the replay store or signing thread are 503", async () => {
    outcome = async () => {
      throw new errors.InvalidDpopProof('the DPoP proof is invalid', 'replayed');
    };
    const refused = await post({ grant_type: 'refresh_token' }, { dpop: 'proof' });
    assert.deepEqual([refused.status, refused.body], [400, { error: 'invalid_dpop_proof', error_description: 'the DPoP proof is invalid' }]);
    assert.equal(refused.headers.get('cache-control'), 'no-store');
    assert.equal(refused.headers.get('pragma'), 'no-cache');
    outcome = async () => {
      checked.at(-1)!.setNonce('n1');
      throw new errors.UseDpopNonce('a DPoP nonce is required', 'nonce_required');
    };
    const nonce = await post({ grant_type: 'refresh_token' }, { dpop: 'proof' });
    assert.deepEqual([nonce.status, nonce.body, nonce.headers.get('dpop-nonce')], [400, { error: 'use_dpop_nonce', error_description: 'a DPoP nonce is required' }, 'n1']);
    for (const outage of [new StoreUnavailable(new Error('ECONNREFUSED')), new SigningUnavailable('the signing thread exited')]) {
      outcome = async () => {
        throw outage;
      };
      const res = await post({ grant_type: 'client_credentials' }, { dpop: 'proof' });
      assert.deepEqual([res.status, res.body], [503, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' }], outage.name);
    }
    assert.equal(reached.length, 0);
  });

  it('toolServers[].requireDpop: client_credentials naming such a resource without a proof → 400 invalid_request', async () => {
    const res = await post({ grant_type: 'client_credentials', resource: LEDGER });
    assert.deepEqual([res.status, res.body], [400, { error: 'invalid_request', error_description: 'a DPoP proof is required' }]);
    // Other grants decide their own binding (the code flow's delegation step; the exchange's policy step).
    assert.equal((await post({ grant_type: 'authorization_code', resource: LEDGER })).status, 200);
    assert.equal((await post({ grant_type: EXCHANGE, resource: LEDGER })).status, 200);
    assert.equal(reached.length, 2);
  });
});
