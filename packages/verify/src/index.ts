// The public surface of `delegation-token-verify`, listed by hand: anything not here is internal.

export { createVerifier } from './verifier.js';
export { VerifyError } from './errors.js';
export type { OAuthErrorCode, VerifyErrorCode } from './errors.js';
export type {
  Actor,
  FetchLike,
  IssuerClientCredentials,
  RevocationOptions,
  RevocationRecord,
  VerifiedToken,
  Verifier,
  VerifierOptions,
  VerifyOptions,
} from './types.js';

export { expressBearerAuth, koaBearerAuth } from './middleware.js';
export type { BearerAuthOptions, ExpressLikeRequest, ExpressLikeResponse, KoaLikeContext } from './middleware.js';

export { mcpTokenVerifier } from './mcp.js';
export type { McpAuthExtra, McpAuthInfo, McpErrorClasses, McpTokenVerifierOptions } from './mcp.js';

export { protectedResourceMetadata, resourceMetadataPath, resourceMetadataUrl } from './metadata.js';
export type { ProtectedResourceMetadata, ProtectedResourceMetadataInput } from './metadata.js';

export { filterTools, toolAllowed } from './tools.js';
