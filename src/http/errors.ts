// The one HTTP error of our own routes: a status, an RFC error code, a fixed public description, the internal detail
// (logs and audit only, never sent) and optional headers; rendered by `renderHttpError` alone.
import type { Context } from 'koa';

export interface HttpErrorOptions {
  /** Internal: for logs and audit events, never in a response. */
  detail?: string;
  /** Response headers that belong to the refusal (`Allow`, `Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  /** oidc-provider's error handler reads `statusCode`, `expose` and `message` (the code) when one is thrown in its flows. */
  readonly statusCode: number;
  readonly expose = true;
  readonly error: string;
  /** Public and fixed: never carries input or an internal message. */
  readonly error_description: string | undefined;
  readonly error_detail?: string;
  readonly headers: Record<string, string>;

  constructor(status: number, error: string, description: string | undefined, { detail, headers = {} }: HttpErrorOptions = {}) {
    // The message is the RFC error code, as in oidc-provider's errors (its renderer answers `error: message`).
    super(error);
    this.status = status;
    this.statusCode = status;
    this.error = error;
    this.error_description = description;
    if (detail !== undefined) this.error_detail = detail;
    this.headers = headers;
  }

  toJSON(): { error: string; error_description?: string } {
    return { error: this.error, ...(this.error_description === undefined ? {} : { error_description: this.error_description }) };
  }
}

/** Writes `err` as the response: status, its headers, `Cache-Control: no-store`, and the RFC 6749 §5.2 JSON body. */
export function renderHttpError(ctx: Context, err: HttpError): void {
  ctx.status = err.status;
  ctx.set(err.headers);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = err.toJSON();
}
