// What the fuzzer sends, as pure data drawn by fast-check from (seed, index): a recipe names the client, the token and
// every mutation, so case `i` of seed `s` is the same request on every run (tokens are re-signed with the current time).
import fc from 'fast-check';

export const CLIENTS = ['agent', 'agent2', 'crm-server', 'billing-server', 'admin-cli', 'no-exchange', 'public-agent', 'nobody'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** How the client authenticates: right secret (Basic or body), wrong secret, none, or both methods at once (OA-03). */
export type AuthVariant = 'basic' | 'post' | 'wrong_secret' | 'none' | 'basic_and_post' | 'malformed_header';

export type Weird =
  | { t: 'number' }
  | { t: 'array' }
  | { t: 'object' }
  | { t: 'null' }
  | { t: 'empty' }
  | { t: 'long'; n: number }
  | { t: 'control' }
  | { t: 'unicode'; s: string }
  | { t: 'missing' };

export interface IdpRecipe {
  src: 'idp';
  signer: 'ec' | 'rsa' | 'attacker' | 'none' | 'hs256_pubkey';
  alg: 'auto' | 'none' | 'None' | 'NONE' | 'HS256' | 'ES256' | 'RS256' | 'PS256';
  kid: 'right' | 'absent' | 'unknown' | 'injection' | 'other_key';
  typ: 'absent' | 'at+jwt' | 'AT+JWT' | 'application/at+jwt' | 'JWT' | 'dpop+jwt' | 'id+jwt';
  extraHeader: 'none' | 'jku' | 'x5u' | 'jwk' | 'crit';
  iss: 'trusted' | 'untrusted' | 'trailing_slash' | 'missing';
  aud: 'service' | 'other' | 'array_with_service' | 'missing' | 'number';
  sub: { t: 'ok'; i: number } | { t: 'local_bob' } | Weird;
  sid: { t: 'ok'; i: number } | Weird;
  scope: { t: 'absent' } | { t: 'string'; scopes: string[] } | { t: 'array'; scopes: string[] } | { t: 'number' } | { t: 'null' };
  iat: 'now' | 'past' | 'within_leeway' | 'future' | 'missing' | 'string';
  exp: 'soon' | 'long' | 'past' | 'missing' | 'string';
  nbf: 'absent' | 'past' | 'future';
  act: 'absent' | 'ok' | 'string' | 'numeric_sub' | 'with_exp' | 'deep';
  /** The client the token names as issued to: none, the presenter, another of ours (the presenter's counterpart), or an
   * IdP client id the trusted issuer's `clients` maps to the presenter though it is another (cases.ts `namedClient`). */
  azp: 'absent' | 'self' | 'other' | 'mapped';
  clientIdClaim: 'absent' | 'self' | 'other' | 'mapped';
  groups: 'absent' | 'finance' | 'support' | 'string' | 'numbers';
  mayAct: 'absent' | 'self' | 'other';
  duplicateSub: boolean;
}

export interface UserRecipe {
  src: 'user';
  /** Index into the world's pool of users' opaque access tokens. */
  i: number;
  mutate: 'none' | 'append' | 'truncate' | 'case';
  /** Pick among the pool's tokens issued to a client other than the presenter (its `subjectClients`, or not). */
  foreign?: boolean;
}

export interface DelegationRecipe {
  src: 'delegation';
  /** Index into the world's pool of delegation tokens this service issued. */
  i: number;
  mutate: 'none' | 'flip_signature' | 'swap_payload' | 'strip_signature';
  /** Pick among the pool's tokens whose chain names a user token's own client as prior actor (for the presenter's tool
   * server when there are such). */
  holder?: boolean;
}

export interface JunkRecipe {
  src: 'junk';
  value: string;
}

export type SubjectRecipe = IdpRecipe | UserRecipe | DelegationRecipe | JunkRecipe;

export type TargetRecipe =
  | { t: 'resource'; which: 'crm' | 'billing' }
  | { t: 'audience'; which: 'crm' | 'billing' }
  | { t: 'resource_upper_host'; which: 'crm' | 'billing' }
  | { t: 'unregistered' }
  | { t: 'fragment' }
  | { t: 'relative' }
  | { t: 'two' }
  | { t: 'none' }
  | { t: 'junk'; value: string };

export type ScopeRecipe = { t: 'absent' } | { t: 'list'; scopes: string[] } | { t: 'junk'; value: string };

export type ParamMutation =
  | 'none'
  | 'duplicate_subject_token'
  | 'duplicate_scope'
  | 'missing_grant_type'
  | 'wrong_grant_type'
  | 'missing_subject_token_type'
  | 'actor_token_without_type'
  | 'actor_type_without_token'
  | 'junk_actor_token'
  | 'requested_token_type_jwt'
  | 'requested_token_type_at'
  | 'unknown_param';

export const TOKEN_TYPES = ['access_token', 'jwt', 'id_token', 'refresh_token', 'junk'] as const;
export type TokenTypeName = (typeof TOKEN_TYPES)[number];

export interface ExchangeRecipe {
  kind: 'exchange';
  client: ClientName;
  auth: AuthVariant;
  subject: SubjectRecipe;
  subjectType: TokenTypeName;
  target: TargetRecipe;
  scope: ScopeRecipe;
  mutation: ParamMutation;
}

/** A token to introspect or revoke: one from the world's pools, the admin's, or junk. */
export type TokenRef = { t: 'user'; i: number } | { t: 'delegation'; i: number } | { t: 'admin' } | { t: 'junk'; value: string } | { t: 'missing' };

export interface IntrospectRecipe {
  kind: 'introspect';
  endpoint: 'oidc' | 'delegation';
  client: ClientName;
  auth: AuthVariant;
  token: TokenRef;
  hint: 'absent' | 'access_token' | 'refresh_token' | 'junk';
}

export interface RevokeRecipe {
  kind: 'revoke';
  client: ClientName;
  auth: AuthVariant;
  token: TokenRef;
  hint: 'absent' | 'access_token' | 'refresh_token' | 'junk';
}

export interface AdminRecipe {
  kind: 'admin';
  bearer: 'admin' | 'none' | 'junk' | 'user_token' | 'basic' | 'non_admin_scope' | 'oversized';
  route:
    | { t: 'list_sessions'; query: string }
    | { t: 'get_session'; id: string }
    | { t: 'audit'; query: string }
    | { t: 'revoke'; kind: 'sessions' | 'subjects' | 'clients' | 'tokens'; id: string }
    | { t: 'unknown'; path: string };
  body: { t: 'none' } | { t: 'json'; value: unknown } | { t: 'raw'; value: string };
}

export type Recipe = ExchangeRecipe | IntrospectRecipe | RevokeRecipe | AdminRecipe;

/** Scope names the generator draws from: every registered one, a few unknown ones and tricky spellings. */
export const KNOWN_SCOPES = ['crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup', 'billing.issue_refund'];
const SCOPE_NAMES = [...KNOWN_SCOPES, 'admin', 'openid', 'evil.scope', 'CRM.LOOKUP_CUSTOMER', 'crm.lookup_customer\u0000', 'crm.*'];

const unicode = fc.string({ unit: 'grapheme', maxLength: 24 });
const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  unicode,
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '.', '..', 'a.b.c', 'eyJ.eyJ.', '%00', '\u0000', '\r\n', '../../etc/passwd', "' OR 1=1 --", '${jndi:x}', '<script>'),
  fc.integer({ min: 256, max: 70000 }).map((n) => 'A'.repeat(n)),
);
const weird: fc.Arbitrary<Weird> = fc.oneof(
  fc.constant<Weird>({ t: 'number' }),
  fc.constant<Weird>({ t: 'array' }),
  fc.constant<Weird>({ t: 'object' }),
  fc.constant<Weird>({ t: 'null' }),
  fc.constant<Weird>({ t: 'empty' }),
  fc.constantFrom(300, 600, 5000).map((n): Weird => ({ t: 'long', n })),
  fc.constant<Weird>({ t: 'control' }),
  unicode.filter((s) => s.length > 0).map((s): Weird => ({ t: 'unicode', s })),
  fc.constant<Weird>({ t: 'missing' }),
);
const scopeList = fc.subarray(SCOPE_NAMES, { maxLength: 4 });
const knownScopeList = fc.subarray(KNOWN_SCOPES, { minLength: 1, maxLength: 3 });

/** Mostly well-formed, so most draws get far into the validator; each field goes wrong with a small probability. */
function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>, badWeight = 1, goodWeight = 6): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: good, weight: goodWeight }, { arbitrary: bad, weight: badWeight });
}

const idpRecipe: fc.Arbitrary<IdpRecipe> = fc.record({
  src: fc.constant('idp' as const),
  signer: mostly(fc.constantFrom('ec' as const, 'rsa' as const), fc.constantFrom('attacker' as const, 'none' as const, 'hs256_pubkey' as const)),
  alg: mostly(fc.constant('auto' as const), fc.constantFrom('none' as const, 'None' as const, 'NONE' as const, 'HS256' as const, 'ES256' as const, 'RS256' as const, 'PS256' as const), 1, 8),
  kid: mostly(fc.constant('right' as const), fc.constantFrom('absent' as const, 'unknown' as const, 'injection' as const, 'other_key' as const), 1, 8),
  typ: fc.constantFrom('absent' as const, 'at+jwt' as const, 'AT+JWT' as const, 'application/at+jwt' as const, 'JWT' as const, 'dpop+jwt' as const, 'id+jwt' as const),
  extraHeader: mostly(fc.constant('none' as const), fc.constantFrom('jku' as const, 'x5u' as const, 'jwk' as const, 'crit' as const), 1, 10),
  iss: mostly(fc.constant('trusted' as const), fc.constantFrom('untrusted' as const, 'trailing_slash' as const, 'missing' as const), 1, 12),
  aud: mostly(fc.constant('service' as const), fc.constantFrom('other' as const, 'array_with_service' as const, 'missing' as const, 'number' as const), 1, 10),
  sub: mostly<IdpRecipe['sub']>(
    fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3 }).map((i) => ({ t: 'ok' as const, i })), weight: 8 }, { arbitrary: fc.constant({ t: 'local_bob' as const }), weight: 1 }),
    weird,
    1,
    5,
  ),
  sid: mostly<IdpRecipe['sid']>(fc.integer({ min: 0, max: 5 }).map((i) => ({ t: 'ok' as const, i })), weird, 1, 8),
  scope: fc.oneof(
    { arbitrary: fc.constant({ t: 'absent' as const }), weight: 3 },
    { arbitrary: scopeList.map((scopes) => ({ t: 'string' as const, scopes })), weight: 5 },
    { arbitrary: scopeList.map((scopes) => ({ t: 'array' as const, scopes })), weight: 1 },
    { arbitrary: fc.constantFrom({ t: 'number' as const }, { t: 'null' as const }), weight: 1 },
  ),
  iat: mostly(fc.constantFrom('now' as const, 'past' as const), fc.constantFrom('within_leeway' as const, 'future' as const, 'missing' as const, 'string' as const), 1, 8),
  exp: mostly(fc.constantFrom('soon' as const, 'long' as const), fc.constantFrom('past' as const, 'missing' as const, 'string' as const), 1, 8),
  nbf: mostly(fc.constant('absent' as const), fc.constantFrom('past' as const, 'future' as const), 1, 10),
  act: mostly(fc.constant('absent' as const), fc.constantFrom('ok' as const, 'string' as const, 'numeric_sub' as const, 'with_exp' as const, 'deep' as const), 1, 6),
  azp: mostly(fc.constant('absent' as const), fc.constantFrom('self' as const, 'other' as const, 'mapped' as const), 1, 5),
  clientIdClaim: mostly(fc.constant('absent' as const), fc.constantFrom('self' as const, 'other' as const, 'mapped' as const), 1, 8),
  groups: fc.constantFrom('absent' as const, 'finance' as const, 'support' as const, 'string' as const, 'numbers' as const),
  mayAct: mostly(fc.constant('absent' as const), fc.constantFrom('self' as const, 'other' as const), 1, 10),
  duplicateSub: mostly(fc.constant(false), fc.constant(true), 1, 30),
});

/** A well-formed external token: every field valid, so that one mutation on top of it is what gets tested. */
const cleanIdp: fc.Arbitrary<IdpRecipe> = fc.record({
  src: fc.constant('idp' as const),
  signer: fc.constantFrom('ec' as const, 'rsa' as const),
  alg: fc.constant('auto' as const),
  kid: fc.constantFrom('right' as const, 'absent' as const),
  typ: fc.constantFrom('at+jwt' as const, 'AT+JWT' as const, 'application/at+jwt' as const, 'JWT' as const, 'absent' as const),
  extraHeader: fc.constant('none' as const),
  iss: fc.constant('trusted' as const),
  aud: fc.constantFrom('service' as const, 'array_with_service' as const),
  sub: fc.integer({ min: 0, max: 3 }).map((i): IdpRecipe['sub'] => ({ t: 'ok', i })),
  sid: fc.integer({ min: 0, max: 5 }).map((i): IdpRecipe['sid'] => ({ t: 'ok', i })),
  scope: fc.oneof(fc.constant({ t: 'absent' as const }), knownScopeList.map((scopes) => ({ t: 'string' as const, scopes }))),
  iat: fc.constantFrom('now' as const, 'past' as const),
  exp: fc.constantFrom('soon' as const, 'long' as const),
  nbf: fc.constantFrom('absent' as const, 'past' as const),
  act: fc.constantFrom('absent' as const, 'ok' as const),
  azp: fc.constantFrom('absent' as const, 'self' as const, 'mapped' as const),
  clientIdClaim: fc.constantFrom('absent' as const, 'self' as const, 'mapped' as const),
  groups: fc.constantFrom('absent' as const, 'finance' as const, 'support' as const),
  mayAct: fc.constantFrom('absent' as const, 'self' as const),
  duplicateSub: fc.constant(false),
});
const IDP_FIELDS = Object.keys({
  signer: 0, alg: 0, kid: 0, typ: 0, extraHeader: 0, iss: 0, aud: 0, sub: 0, sid: 0, scope: 0, iat: 0, exp: 0, nbf: 0, act: 0, azp: 0, clientIdClaim: 0, groups: 0, mayAct: 0, duplicateSub: 0,
} satisfies Record<Exclude<keyof IdpRecipe, 'src'>, 0>) as (keyof IdpRecipe)[];
/** Clean, except for one field drawn from the adversarial distribution (or none). */
const oneMutationIdp: fc.Arbitrary<IdpRecipe> = fc
  .tuple(cleanIdp, idpRecipe, fc.option(fc.constantFrom(...IDP_FIELDS), { freq: 4 }))
  .map(([clean, wild, field]) => (field === null ? clean : { ...clean, [field]: wild[field] }));

const subjectRecipe: fc.Arbitrary<SubjectRecipe> = fc.oneof(
  { arbitrary: idpRecipe, weight: 3 },
  { arbitrary: oneMutationIdp, weight: 4 },
  {
    arbitrary: fc.record({ src: fc.constant('user' as const), i: fc.nat(63), mutate: mostly(fc.constant('none' as const), fc.constantFrom('append' as const, 'truncate' as const, 'case' as const), 1, 6) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      src: fc.constant('delegation' as const),
      i: fc.nat(63),
      mutate: mostly(fc.constant('none' as const), fc.constantFrom('flip_signature' as const, 'swap_payload' as const, 'strip_signature' as const), 1, 5),
    }),
    weight: 2,
  },
  { arbitrary: junkString.map((value) => ({ src: 'junk' as const, value })), weight: 1 },
);

const which = fc.constantFrom('crm' as const, 'billing' as const);
const targetRecipe: fc.Arbitrary<TargetRecipe> = mostly(
  fc.oneof(
    { arbitrary: which.map((w) => ({ t: 'resource' as const, which: w })), weight: 5 },
    { arbitrary: which.map((w) => ({ t: 'audience' as const, which: w })), weight: 1 },
    { arbitrary: which.map((w) => ({ t: 'resource_upper_host' as const, which: w })), weight: 1 },
  ),
  fc.oneof(
    fc.constantFrom<TargetRecipe>({ t: 'unregistered' }, { t: 'fragment' }, { t: 'relative' }, { t: 'two' }, { t: 'none' }),
    junkString.map((value): TargetRecipe => ({ t: 'junk', value })),
  ),
  1,
  6,
);

const scopeRecipe: fc.Arbitrary<ScopeRecipe> = fc.oneof(
  { arbitrary: fc.constant({ t: 'absent' as const }), weight: 3 },
  { arbitrary: knownScopeList.map((scopes) => ({ t: 'list' as const, scopes })), weight: 5 },
  { arbitrary: scopeList.map((scopes) => ({ t: 'list' as const, scopes })), weight: 2 },
  { arbitrary: junkString.map((value) => ({ t: 'junk' as const, value })), weight: 1 },
);

const clientName = fc.oneof(
  { arbitrary: fc.constantFrom<ClientName>('agent', 'agent2', 'crm-server', 'billing-server'), weight: 10 },
  { arbitrary: fc.constantFrom<ClientName>('admin-cli', 'no-exchange', 'public-agent', 'nobody'), weight: 1 },
);
const auth: fc.Arbitrary<AuthVariant> = mostly(
  fc.constantFrom<AuthVariant>('basic', 'post'),
  fc.constantFrom<AuthVariant>('wrong_secret', 'none', 'basic_and_post', 'malformed_header'),
  1,
  12,
);

const wildExchange: fc.Arbitrary<ExchangeRecipe> = fc.record({
  kind: fc.constant('exchange' as const),
  client: clientName,
  auth,
  subject: subjectRecipe,
  subjectType: mostly(fc.constantFrom<TokenTypeName>('access_token', 'jwt', 'id_token'), fc.constantFrom<TokenTypeName>('refresh_token', 'junk'), 1, 15),
  target: targetRecipe,
  scope: scopeRecipe,
  mutation: mostly(
    fc.constant<ParamMutation>('none'),
    fc.constantFrom<ParamMutation>(
      'duplicate_subject_token', 'duplicate_scope', 'missing_grant_type', 'wrong_grant_type', 'missing_subject_token_type', 'actor_token_without_type',
      'actor_type_without_token', 'junk_actor_token', 'requested_token_type_jwt', 'requested_token_type_at', 'unknown_param',
    ),
    1,
    8,
  ),
});

/** Mostly a legitimate request from an exchange client for a registered target, so the subject token decides. */
const plainExchange: fc.Arbitrary<ExchangeRecipe> = fc.record({
  kind: fc.constant('exchange' as const),
  client: fc.constantFrom<ClientName>('agent', 'agent', 'agent2', 'crm-server', 'billing-server'),
  auth: fc.constantFrom<AuthVariant>('basic', 'post'),
  subject: subjectRecipe,
  subjectType: fc.constantFrom<TokenTypeName>('access_token', 'access_token', 'jwt', 'id_token'),
  target: which.map((w): TargetRecipe => ({ t: 'resource', which: w })),
  scope: fc.oneof(fc.constant<ScopeRecipe>({ t: 'absent' }), knownScopeList.map((scopes): ScopeRecipe => ({ t: 'list', scopes }))),
  mutation: fc.constant<ParamMutation>('none'),
});
/**
 * A legitimate request whose subject token was issued to another client (RFC 8693 §4.1: that client is then the prior
 * actor): another client's user token (allowed when the presenter's `subjectClients` names it), or a clean IdP token
 * naming an IdP client id the trusted issuer maps to the presenter. Without this arm such draws are rare.
 */
const holderExchange: fc.Arbitrary<ExchangeRecipe> = fc
  .record({
    client: fc.constantFrom<ClientName>('agent', 'agent', 'agent', 'agent2', 'crm-server', 'crm-server', 'billing-server'),
    auth: fc.constantFrom<AuthVariant>('basic', 'post'),
    user: fc.record({ src: fc.constant('user' as const), i: fc.nat(63), mutate: fc.constant('none' as const), foreign: fc.constant(true) }),
    hop: fc.record({ src: fc.constant('delegation' as const), i: fc.nat(63), mutate: fc.constant('none' as const), holder: fc.constant(true) }),
    idp: cleanIdp,
    // The IdP token names its client in azp, client_id or both; its typ fits the declared type (README, `wrong_typ`).
    names: fc.constantFrom('azp' as const, 'client_id' as const, 'both' as const),
    declared: fc.constantFrom('access_token' as const, 'jwt' as const),
    from: fc.constantFrom('user' as const, 'idp' as const, 'idp' as const, 'hop' as const),
    target: which.map((w): TargetRecipe => ({ t: 'resource', which: w })),
    scope: fc.oneof(fc.constant<ScopeRecipe>({ t: 'absent' }), knownScopeList.map((scopes): ScopeRecipe => ({ t: 'list', scopes }))),
  })
  .map(({ client, auth, user, hop, idp, names, declared, from, target, scope }): ExchangeRecipe => ({
    kind: 'exchange',
    client,
    auth,
    subject: from === 'idp'
      ? {
          ...idp,
          azp: names === 'client_id' ? idp.azp : 'mapped',
          clientIdClaim: names === 'azp' ? idp.clientIdClaim : 'mapped',
          typ: declared === 'access_token' ? (idp.typ === 'JWT' || idp.typ === 'absent' ? 'at+jwt' : idp.typ) : idp.typ === 'absent' ? 'absent' : 'JWT',
          exp: 'soon',
        }
      : from === 'hop' ? hop : user,
    subjectType: from === 'idp' ? declared : 'access_token',
    // A hop goes on to the other tool server (the only one a tool server's own rule names), mostly.
    target: from === 'hop' && client === 'crm-server' ? { t: 'resource', which: 'billing' } : from === 'hop' && client === 'billing-server' ? { t: 'resource', which: 'crm' } : target,
    scope,
    mutation: 'none',
  }));
const exchangeRecipe: fc.Arbitrary<ExchangeRecipe> = fc.oneof(
  { arbitrary: wildExchange, weight: 3 },
  { arbitrary: plainExchange, weight: 3 },
  { arbitrary: holderExchange, weight: 2 },
);

const tokenRef: fc.Arbitrary<TokenRef> = fc.oneof(
  { arbitrary: fc.nat(63).map((i) => ({ t: 'user' as const, i })), weight: 4 },
  { arbitrary: fc.nat(63).map((i) => ({ t: 'delegation' as const, i })), weight: 4 },
  { arbitrary: fc.constant({ t: 'admin' as const }), weight: 1 },
  { arbitrary: junkString.map((value) => ({ t: 'junk' as const, value })), weight: 2 },
  { arbitrary: fc.constant({ t: 'missing' as const }), weight: 1 },
);
const hint = fc.constantFrom('absent' as const, 'access_token' as const, 'refresh_token' as const, 'junk' as const);

const introspectRecipe: fc.Arbitrary<IntrospectRecipe> = fc.record({
  kind: fc.constant('introspect' as const),
  endpoint: fc.constantFrom('oidc' as const, 'delegation' as const),
  client: clientName,
  auth,
  token: tokenRef,
  hint,
});

const revokeRecipe: fc.Arbitrary<RevokeRecipe> = fc.record({
  kind: fc.constant('revoke' as const),
  client: clientName,
  auth,
  token: tokenRef,
  hint,
});

/** Admin ids are drawn from their own namespace (`fz-…`), so fuzzed revocations never hit the world's live tokens. */
const adminId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `fz-${s}`),
  unicode.map((s) => `fz-${s}`),
  fc.constantFrom('fz-%00', 'fz-..%2F..%2Fadmin', 'fz-%E2%80%AE', 'fz-' + 'x'.repeat(600), 'fz-\u0007bell', '%', '%%', '..'),
);
const adminRecipe: fc.Arbitrary<AdminRecipe> = fc.record({
  kind: fc.constant('admin' as const),
  bearer: fc.constantFrom('admin' as const, 'admin' as const, 'none' as const, 'junk' as const, 'user_token' as const, 'basic' as const, 'non_admin_scope' as const, 'oversized' as const),
  route: fc.oneof(
    junkString.map((q) => ({ t: 'list_sessions' as const, query: q })),
    adminId.map((id) => ({ t: 'get_session' as const, id })),
    junkString.map((q) => ({ t: 'audit' as const, query: q })),
    fc.record({ t: fc.constant('revoke' as const), kind: fc.constantFrom('sessions' as const, 'subjects' as const, 'clients' as const, 'tokens' as const), id: adminId }),
    fc.constantFrom('/admin', '/admin/', '/admin/sessions/../clients', '/admin/%2e%2e/token', '/admin/sessions//revoke').map((path) => ({ t: 'unknown' as const, path })),
  ),
  body: fc.oneof(
    fc.constant({ t: 'none' as const }),
    fc.oneof(fc.constant({ reason: 'fuzz' }), fc.record({ reason: junkString }), fc.anything({ maxDepth: 3 })).map((value) => ({ t: 'json' as const, value })),
    junkString.map((value) => ({ t: 'raw' as const, value })),
  ),
});

export const recipeArbitrary: fc.Arbitrary<Recipe> = fc.oneof(
  { arbitrary: exchangeRecipe, weight: 12 },
  { arbitrary: introspectRecipe, weight: 3 },
  { arbitrary: revokeRecipe, weight: 1 },
  { arbitrary: adminRecipe, weight: 2 },
);

/** Case `index` of run `seed`: its own fast-check seed, so one case can be replayed without the ones before it. */
export function recipeAt(seed: number, index: number): Recipe {
  return fc.sample(recipeArbitrary, { seed: (Math.imul(seed, 0x9e3779b1) + index) | 0, numRuns: 1 })[0]!;
}
