// Our 5xx errors (fail closed), thrown both in our routes and inside oidc-provider's flows (the grant, the adapter),
// where oidc-provider renders them from the same fields.
import { HttpError } from '../http/errors.js';

/** HTTP 503 `temporarily_unavailable`: a dependency (Redis, keys) is down, so nothing is issued. */
export class ServiceUnavailable extends HttpError {
  override name = 'ServiceUnavailable';
  constructor(detail?: string) {
    super(503, 'temporarily_unavailable', 'the service is temporarily unavailable', detail === undefined ? {} : { detail });
  }
}

/** HTTP 500 `server_error` with a fixed description: an unexpected internal failure (a bug), never a dependency outage. */
export class ServerError extends HttpError {
  override name = 'ServerError';
  constructor(detail?: string) {
    super(500, 'server_error', 'internal error', detail === undefined ? {} : { detail });
  }
}
