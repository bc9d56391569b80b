// RFC 8693 wire constants and the request schema of the token exchange grant.
import { z } from 'zod';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Parameters the grant reads (RFC 8693 §2.1). `resource` and `audience` may repeat; every other one may not (RFC 6749 §3.2). */
export const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'scope',
  // RFC 9396 §6: the token request may carry authorization_details (a JSON array, form-encoded).
  'authorization_details',
] as const;
export const REPEATABLE = ['resource', 'audience'] as const;

const list = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]).filter((s) => s !== ''));

// oidc-provider has already turned empty values into undefined (RFC 6749 §3.2: "parameters sent without a value MUST be
// treated as if they were omitted"), so presence here means a non-empty string.
export const exchangeRequestSchema = z
  .object({
    subject_token: z.string({ error: 'subject_token is missing' }),
    subject_token_type: z.string({ error: 'subject_token_type is missing' }),
    actor_token: z.string().optional(),
    actor_token_type: z.string().optional(),
    requested_token_type: z.string().optional(),
    resource: list,
    audience: list,
    scope: z.string().optional(),
    authorization_details: z.string().optional(),
  })
  // RFC 8693 §2.1: actor_token_type "is REQUIRED when the actor_token parameter is present ... MUST NOT be included otherwise".
  .refine((p) => (p.actor_token === undefined) === (p.actor_token_type === undefined), {
    error: 'actor_token and actor_token_type must be sent together',
  });

export type ExchangeRequest = z.infer<typeof exchangeRequestSchema>;

/** The first issue's message: these are our own fixed strings, never zod's defaults (every refinement above names one). */
export function describeInvalidRequest(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue?.code === 'invalid_type' && issue.path.length === 1 && typeof issue.path[0] === 'string') {
    return issue.input === undefined ? `${issue.path[0]} is missing` : `${issue.path[0]} is malformed`;
  }
  return issue?.message && !issue.message.startsWith('Invalid') ? issue.message : 'the request is malformed';
}
