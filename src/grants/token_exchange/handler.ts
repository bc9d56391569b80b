// The RFC 8693 token exchange grant: parse -> client -> target -> subject -> actor -> binding -> revocation -> act ->
// policy -> issue -> event. Registered on oidc-provider with registerGrantType (see register.ts).
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { MAX_ACT_DEPTH } from 'delegation-token-verify';
import type { ClientConfig, ToolServerConfig } from '../../config/schema.js';
import type { DecisionEvents, ExchangeDecisionEvent } from '../../audit/events.js';
import type { Policy, PolicyError } from '../../policy/decide.js';
import { canonicalResource } from '../../policy/resource.js';
import { revokedBecause } from '../../sessions/revocation.js';
import { actClientIds, actDepth } from '../../token_types/act.js';
import { validateActorToken, type FindClientCredentials } from '../../token_types/actor.js';
import type { TokenTypeDeps, ValidationContext } from '../../token_types/context.js';
import { subjectTokenValidators } from '../../token_types/registry.js';
import { DependencyUnavailable, TokenRejected, type ActClaim, type SubjectContext } from '../../token_types/types.js';
import { ServerError, ServiceUnavailable } from '../../provider/errors.js';
import { StoreUnavailable } from '../../stores/errors.js';
import { describeInvalidRequest, exchangeRequestSchema, type ExchangeRequest } from './params.js';
import { TokenType } from '../../token_types/urns.js';
import { signDelegationToken, type Signer } from './issue.js';
import { SigningUnavailable, type SignCompact } from '../../keys/jws_thread.js';
import { inSpan } from '../../telemetry/spans.js';
import { dpopBinding, startDpopProof, type DpopStepDeps } from './dpop.js';
import type { InspectedDpopProof } from '../../dpop/proof.js';
import { DETAILS_DESCRIPTIONS, DetailsRefused, grantAuthorizationDetails, type DetailsDeps } from './details.js';

export interface ExchangeDeps {
  issuer: string;
  clients: Map<string, ClientConfig>;
  toolServers: Map<string, ToolServerConfig>;
  audiences: Map<string, ToolServerConfig>;
  policy: Policy;
  maxActDepth: number;
  tokenTypes: TokenTypeDeps;
  signer: () => Signer;
  /** Signs the token; default jose on this thread (the service passes its signing thread's). */
  sign?: SignCompact;
  findClientCredentials: FindClientCredentials;
  events: DecisionEvents;
  /** RFC 9449: proof checks, bound subject tokens, DPoP required by policy. */
  dpop: DpopStepDeps;
  /** RFC 9396: policy rules and tool servers for the `authorization_details` step. */
  details: DetailsDeps;
  now?: () => number;
}

/** A refusal: the client sees `error` and a fixed `description`; `reasons` go to the audit event and the log. */
class Refusal extends Error {
  constructor(
    readonly error: PolicyError | 'unauthorized_client',
    readonly description: string,
    readonly reasons: string[],
  ) {
    super(description);
  }
}

const oidcError = (r: Refusal) => {
  const detail = r.reasons.join(',');
  switch (r.error) {
    case 'invalid_target':
      return new errors.InvalidTarget(r.description, detail);
    case 'invalid_scope':
      // No `scope` member in the error body: RFC 6749 §5.2 does not define one.
      return new errors.InvalidScope(r.description, undefined as never, detail);
    case 'unauthorized_client':
      return new errors.UnauthorizedClient(r.description, detail);
    default:
      return new errors.InvalidRequest(r.description, undefined, detail);
  }
};

function parse(params: Record<string, unknown>): ExchangeRequest {
  const result = exchangeRequestSchema.safeParse(params);
  if (!result.success) throw new Refusal('invalid_request', describeInvalidRequest(result.error), ['malformed_request']);
  return result.data;
}

function checkClient(deps: ExchangeDeps, clientId: string): void {
  const client = deps.clients.get(clientId);
  // SPEC profile: only confidential clients that the configuration allows may exchange.
  if (!client || client.token_endpoint_auth_method === 'none' || !client.grant_types.includes('urn:ietf:params:oauth:grant-type:token-exchange')) {
    throw new Refusal('unauthorized_client', 'the client is not allowed to use token exchange', ['client_not_allowed']);
  }
}

/** RFC 8707 §2 and SPEC profile: exactly one target, a registered tool server (by resource URI or audience alias). */
function resolveTarget(deps: ExchangeDeps, req: ExchangeRequest): ToolServerConfig {
  const targets = req.resource.length + req.audience.length;
  if (targets !== 1) throw new Refusal('invalid_target', targets ? 'exactly one resource or audience is allowed' : 'a resource or audience is required', ['target_count']);
  if (req.resource.length) {
    // A resource sent in its canonical form (the common case) is a registered key as it is: canonicalResource is
    // idempotent and the keys are canonical, so this hit is exactly what canonicalising first would find.
    const exact = deps.toolServers.get(req.resource[0]!);
    if (exact) return exact;
    const canonical = canonicalResource(req.resource[0]!);
    if (!canonical) throw new Refusal('invalid_target', 'resource must be an absolute URI without a fragment', ['malformed_resource']);
    const server = deps.toolServers.get(canonical);
    if (!server) throw new Refusal('invalid_target', 'the resource is not a registered tool server', ['unknown_resource']);
    return server;
  }
  const server = deps.audiences.get(req.audience[0]!) ?? deps.toolServers.get(canonicalResource(req.audience[0]!) ?? '');
  if (!server) throw new Refusal('invalid_target', 'the audience is not a registered tool server', ['unknown_audience']);
  return server;
}

async function validateSubject(req: ExchangeRequest, ctx: ValidationContext): Promise<SubjectContext> {
  const validator = subjectTokenValidators.get(req.subject_token_type);
  // RFC 8693 §2.2.2: an unsupported token type is an invalid_request.
  if (!validator) throw new Refusal('invalid_request', 'unsupported subject_token_type', ['unsupported_subject_token_type']);
  return validator(req.subject_token, ctx);
}

/** SPEC profile: who may present this subject token. */
function checkBinding(deps: ExchangeDeps, subject: SubjectContext, clientId: string): void {
  if (subject.kind === 'user_token' && subject.issuedTo !== clientId && !deps.policy.subjectClients(clientId).includes(subject.issuedTo!)) {
    throw new TokenRejected('not_issued_to_client');
  }
}

/**
 * RFC 8693 §4.1: "nested act claims represent prior actors". The subject token's own chain; else, for a user's token
 * issued to another client (our user token presented by an agent whose policy lists that client in `subjectClients`;
 * an external JWT whose `azp` or `client_id` the trusted issuer's `clients` maps to this one), that client: the user's
 * authority reached this agent through it. Naming it keeps the chain whole for the audit trail and tool servers, and
 * lets revoke-client of that client reach every token derived from its users' tokens (README, "Revoking"). Also on a
 * refusal of that binding: the deny event's would-be chain names whose token was presented.
 */
function priorActors(subject: SubjectContext, clientId: string): { act?: ActClaim } {
  if (subject.act) return { act: subject.act };
  if (subject.holder !== undefined && subject.holder.sub !== clientId) return { act: subject.holder };
  return {};
}

export function createExchangeHandler(deps: ExchangeDeps) {
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));

  return async function tokenExchangeHandler(ctx: KoaContextWithOIDC): Promise<void> {
    const started = performance.now();
    const clientId = ctx.oidc.client!.clientId;
    const event: ExchangeDecisionEvent = {
      // Until the subject is validated, the chain known is the requesting client alone.
      type: 'exchange', time: Date.now(), decision: 'deny', reasons: [], clientId, act: { sub: clientId }, durationMs: 0,
      requestId: (ctx.state as { requestId?: string }).requestId,
    };
    try {
      // RFC 8693 §2.1: the target is what the client sent. oidc-provider fills in its default `resource` when
      // `authorization_details` comes without one (ensureRarResource, for its own grants), so `resource` is read from
      // the request body, where an `audience` alone stays the only target.
      const sent = (ctx.oidc as unknown as { body?: Record<string, unknown> }).body;
      const req = inSpan('exchange.parse', () => parse({ ...(ctx.oidc.params as Record<string, unknown>), resource: sent?.resource }));
      event.subjectTokenType = req.subject_token_type;
      checkClient(deps, clientId);
      // RFC 8693 §2.2.2: an unsupported requested_token_type is an invalid_request.
      if (req.requested_token_type !== undefined && req.requested_token_type !== TokenType.accessToken) {
        throw new Refusal('invalid_request', 'unsupported requested_token_type', ['unsupported_requested_token_type']);
      }
      const toolServer = resolveTarget(deps, req);
      event.toolServer = toolServer.resource;
      const requested = req.scope === undefined ? undefined : req.scope.split(' ').filter(Boolean);
      event.requestedScopes = requested;

      // RFC 9449 §4.3: the DPoP proof's claims are checked before the subject is read, so that read can claim its
      // replay key, and its signature is checked on the signing thread while the subject is read. A refused proof is
      // the answer, but only once the subject is known too (read without a claim when the claims were refused), for the
      // audit event.
      let proof: InspectedDpopProof | undefined;
      let proofRefused: unknown;
      let started: ReturnType<typeof startDpopProof>;
      if (ctx.req.headers.dpop !== undefined) {
        try {
          started = inSpan('exchange.dpop_proof', () => startDpopProof(deps.dpop, ctx));
        } catch (err) {
          proofRefused = err;
        }
      }
      const vctx: ValidationContext = { deps: deps.tokenTypes, clientId, now: now(), ...(started?.replay ? { dpopReplay: started.replay } : {}) };
      // RFC 8693 §2.1: "the authorization server MUST perform the appropriate validation procedures for the indicated token type".
      // Settled into a value at once: it is awaited only after the proof's signature, and must never be an unhandled rejection.
      const read = inSpan('exchange.subject', () => validateSubject(req, vctx)).then(
        (subject) => ({ subject }),
        (error: unknown) => ({ error }),
      );
      if (started) {
        try {
          proof = await started.done;
        } catch (err) {
          proofRefused = err;
        }
      }
      const outcome = await read;
      if ('error' in outcome) throw proofRefused ?? outcome.error;
      const { subject } = outcome;
      // RFC 8693 §4.1: the current actor outermost, prior actors nested inside it. Known as soon as the subject is, and
      // recorded before any check below can refuse, so every decision event carries the full would-be chain.
      const act: ActClaim = { sub: clientId, ...priorActors(subject, clientId) };
      Object.assign(event, { sub: subject.sub, sid: subject.sid, act, ...(subject.jti ? { subjectJti: subject.jti } : {}) });
      if (proofRefused) throw proofRefused;
      if (req.actor_token !== undefined) {
        await inSpan('exchange.actor', () => validateActorToken(req.actor_token!, req.actor_token_type!, vctx, deps.findClientCredentials, proof?.jkt));
      }
      checkBinding(deps, subject, clientId);
      // RFC 8693 §4.4: may_act names who may act for the subject.
      if (subject.mayAct && (subject.mayAct.sub !== clientId || (subject.mayAct.iss !== undefined && subject.mayAct.iss !== deps.issuer))) {
        throw new TokenRejected('may_act_mismatch');
      }
      const jkt = await inSpan('exchange.dpop', () => dpopBinding(deps.dpop, { subject, subjectToken: req.subject_token, clientId, toolServer, proof }));
      if (jkt) event.jkt = jkt;
      const revoked = inSpan('exchange.revocation', () => revokedBecause(subject.revocations, subject.iat));
      if (revoked) throw new TokenRejected(revoked);

      if (actDepth(act) > deps.maxActDepth) throw new Refusal('invalid_request', 'the delegation chain is too long', ['act_depth_exceeded']);
      // Verify SDK parseAncestors: at most MAX_ACT_DEPTH `ancestors`, or no tool server accepts the token. A chain from a
      // user's opaque token carries one more (its grant) than it has actors, so it reaches this cap first at depth 10;
      // unless another client presented the user token (its holder is a prior actor too): then the act cap binds first.
      if (subject.lineage.length > MAX_ACT_DEPTH) throw new Refusal('invalid_request', 'the delegation chain is too long', ['ancestors_exceeded']);

      const decision = inSpan('exchange.policy', () => deps.policy.decide({ agent: clientId, toolServer, userGroups: subject.groups, subjectScopes: subject.scopes, requested }));
      event.reasons = decision.reasons;
      if (!decision.allowed) {
        const description = { invalid_target: 'the client may not obtain tokens for this tool server', invalid_scope: 'the requested scope is not allowed', invalid_request: 'the subject may not be delegated to this client' }[decision.error];
        throw new Refusal(decision.error, description, decision.reasons);
      }
      const details = inSpan('exchange.details', () => grantAuthorizationDetails(deps.details, { requested: req.authorization_details, agent: clientId, toolServer, scopes: decision.scopes, subject }));

      const iat = vctx.now;
      // SPEC profile: exp <= min(now + tool server TTL, subject token exp, session end).
      const exp = Math.min(iat + toolServer.maxTtlSeconds, subject.exp, subject.sessionEnd ?? Infinity);
      if (exp <= iat) throw new TokenRejected('expired');
      const { token, jti } = await inSpan('exchange.issue', () => signDelegationToken(deps.issuer, deps.signer(), {
        sub: subject.sub, aud: toolServer.resource, clientId, scopes: decision.scopes, act, sid: subject.sid, iat, exp,
        authTime: subject.authTime, acr: subject.acr, ancestors: subject.lineage, groups: deps.policy.carriedGroups(subject.groups), jkt,
        authorizationDetails: details,
      }, deps.sign));
      Object.assign(event, { decision: 'allow', grantedScopes: decision.scopes, jti, exp });

      // RFC 8693 §2.2.1; `scope` always returned (it may differ from the request); never a refresh token.
      ctx.body = {
        access_token: token,
        issued_token_type: TokenType.accessToken,
        // RFC 9449 §5: a DPoP-bound access token is returned with token_type DPoP.
        token_type: jkt ? 'DPoP' : 'Bearer',
        expires_in: exp - iat,
        scope: decision.scopes.join(' '),
        // RFC 9396 §7: the token response carries the authorization details granted to the token.
        ...(details ? { authorization_details: details } : {}),
      };
    } catch (err) {
      throw toOidcError(err, event);
    } finally {
      event.durationMs = performance.now() - started;
      (ctx.state as { decision?: ExchangeDecisionEvent }).decision = event;
      deps.events.emit(event);
    }
  };
}

/** Maps every failure to an RFC error; records the cause on the event. Outages are 503, anything unexpected 500. */
function toOidcError(err: unknown, event: ExchangeDecisionEvent): Error {
  if (err instanceof Refusal) {
    event.error = err.error;
    if (!event.reasons.length) event.reasons = err.reasons;
    return oidcError(err);
  }
  if (err instanceof DetailsRefused) {
    event.error = 'invalid_authorization_details';
    event.reasons = [`authorization_details:${err.reason}`];
    // RFC 9396 §5 / §8: invalid_authorization_details, with a fixed description; the reason stays in the audit event.
    return new errors.InvalidAuthorizationDetails(DETAILS_DESCRIPTIONS[err.kind], err.reason);
  }
  // Already an RFC error with a fixed description (the DPoP step's invalid_dpop_proof, use_dpop_nonce, invalid_request).
  if (err instanceof errors.OIDCProviderError && err.expose) {
    event.error = err.error;
    event.reasons = [err.error_detail ?? err.error];
    return err;
  }
  if (err instanceof TokenRejected) {
    event.error = 'invalid_request';
    event.reasons = [`${err.which}:${err.reason}`];
    // RFC 8693 §2.2.2: an invalid subject or actor token "for any reason" is invalid_request.
    return new errors.InvalidRequest(`${err.which} is invalid`, undefined, err.reason);
  }
  const message = err instanceof Error ? err.message : String(err);
  // RFC 6749 §5.2 / §4.1.2.1: a dependency outage is temporarily_unavailable (fail closed); only a real one is.
  const outage =
    err instanceof StoreUnavailable ? 'store_unavailable'
    : err instanceof DependencyUnavailable ? 'dependency_unavailable'
    : err instanceof SigningUnavailable ? 'signing_unavailable'
    : err instanceof ServiceUnavailable || err instanceof errors.TemporarilyUnavailable ? 'store_unavailable' // oidc-provider's adapter, wrapped in provider/index.ts
    : undefined;
  if (outage) {
    event.error = 'temporarily_unavailable';
    event.reasons = [outage];
    return new ServiceUnavailable(message);
  }
  // Anything else is a bug: 500 server_error with its own reason, never disguised as an outage. Nothing is issued.
  event.error = 'server_error';
  event.reasons = ['internal_error'];
  return new ServerError(message);
}
