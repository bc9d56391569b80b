// Error classes beyond oidc-provider's own: 503 for a store or key that is unavailable (fail closed).
import { errors } from 'oidc-provider';

/** HTTP 503 `temporarily_unavailable`: a dependency (Redis, keys) is down, so nothing is issued. */
export class ServiceUnavailable extends errors.TemporarilyUnavailable {
  constructor(detail?: string) {
    super('the service is temporarily unavailable', detail === undefined ? undefined : { detail });
    this.status = 503;
    this.statusCode = 503;
    this.expose = true;
  }
}

/** HTTP 500 `server_error` with a fixed description: an unexpected internal failure (a bug), never a dependency outage. */
export class ServerError extends errors.OIDCProviderError {
  constructor(detail?: string) {
    super(500, 'server_error', detail === undefined ? undefined : { detail });
    Object.assign(this, { error_description: 'internal error', expose: true });
  }
}
