// The one error type of the admin API: the shared HttpError (status, code, fixed public description) plus audit reasons.
import { HttpError } from '../http/errors.js';

/** Every `error` the admin API answers with: a closed set (the OpenAPI document lists the same). */
export const ADMIN_ERROR_CODES = ['invalid_request', 'invalid_token', 'insufficient_scope', 'not_found', 'method_not_allowed', 'temporarily_unavailable'] as const;
export type AdminErrorCode = (typeof ADMIN_ERROR_CODES)[number];

/** An admin refusal: the shared HTTP error plus the reasons recorded in the admin audit event. */
export class AdminError extends HttpError {
  override name = 'AdminError';
  declare readonly error: AdminErrorCode;
  /** The authenticated caller, when the refusal came after authentication (403): for the audit event. */
  clientId?: string;
  constructor(
    status: number,
    error: AdminErrorCode,
    /** Public and fixed: never carries input or an internal message. */
    readonly description: string,
    /** For the audit event only. */
    readonly reasons: string[] = [error],
    headers: Record<string, string> = {},
  ) {
    super(status, error, description, { headers });
  }

  override toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const notFound = (what: string, reason: string) => new AdminError(404, 'not_found', `${what} not found`, [reason]);

/** Fail closed: a store that does not answer is a 503, never a 500 and never a guess. */
export function unavailable(err: unknown): never {
  throw new AdminError(503, 'temporarily_unavailable', 'the service is temporarily unavailable', [
    'store_unavailable',
    err instanceof Error ? err.message.slice(0, 200) : 'unknown',
  ]);
}
