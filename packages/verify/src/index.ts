// The public surface of `delegation-token-verify`, listed by hand: anything not here is internal.

export { createVerifier } from './verifier.js';
export { VerifyError, fromJoseError } from './errors.js';
export {
  MAX_ACT_DEPTH,
  REQUIRED_CLAIMS,
  parseActChain,
  parseAncestors,
  parseDelegationClaims,
  revokableActors,
} from './claims.js';
export type { DelegationClaims } from './claims.js';
export { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH, isIdentifier } from './identifiers.js';
export { decodeJsonSegment } from './json_strict.js';
export type { OAuthErrorCode, VerifyErrorCode } from './errors.js';
export type {
  Actor,
  FetchLike,
  IssuerClientCredentials,
  RevocationOptions,
  RevocationRecord,
  VerifiedToken,
  Verifier,
  VerifierHealth,
  VerifierOptions,
  VerifyOptions,
} from './types.js';

export { expressBearerAuth, koaBearerAuth } from './middleware.js';
export type { BearerAuthOptions, ExpressLikeRequest, ExpressLikeResponse, KoaLikeContext } from './middleware.js';
export { expressTokenAuth, koaTokenAuth, mcpAuth } from './request_auth.js';
export type { KoaTokenContext, TokenAuthOptions, TokenAuthRequest } from './request_auth.js';
export { MemoryDpopReplayStore } from './dpop_replay.js';
export type { DpopReplayStore } from './dpop_replay.js';
export { dpopKeyProblem, normalizeHtu } from './dpop.js';
export type { DpopRequest } from './dpop.js';

export { mcpTokenVerifier } from './mcp.js';
export type { McpAuthExtra, McpAuthInfo, McpErrorClasses, McpTokenVerifierOptions } from './mcp.js';

export { protectedResourceMetadata, resourceMetadataPath, resourceMetadataUrl } from './metadata.js';
export type { ProtectedResourceMetadata, ProtectedResourceMetadataInput } from './metadata.js';

export { filterTools, toolAllowed } from './tools.js';

export {
  MCP_TOOL_TYPE,
  argumentConstraintsError,
  argumentsSubsume,
  checkArguments,
  checkValue,
  narrowest,
  narrowestArguments,
  parseAuthorizationDetails,
  parseAuthorizationDetailsJson,
  parseMcpToolDetails,
  subsumes,
} from './constraints.js';
export type {
  ArgumentConstraints,
  CheckResult,
  Constraint,
  ConstraintType,
  ConstraintViolation,
  JsonValue,
  McpToolDetails,
} from './constraints.js';

export { ANY_ARGUMENTS, decide } from './decision.js';
export type { ArgumentViolation, Decision, DecisionToken } from './decision.js';
export { expressToolAuthorization, koaToolAuthorization } from './tool_authorization.js';
export type { KoaToolContext, ToolAuthorizationOptions } from './tool_authorization.js';
export type { FilterRefusal, NodeLikeResponse } from './tools_list_filter.js';
export { jsonLinesDecisionSink } from './decision_log.js';
export type { DecisionEvent, InfoLogger } from './decision_log.js';
