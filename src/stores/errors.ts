// The one error a store throws when its backend cannot answer, so callers tell an outage (503) from a bug (500).

/** The backing store (Redis) failed or could not be reached: the caller fails closed with 503, never "not revoked". */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
  constructor(cause: unknown) {
    super(`store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Wraps every async method of `store` so that any rejection becomes a StoreUnavailable (already wrapped ones pass
 * through). For backends whose failures are all I/O (Redis replies, connection, script errors); methods bound once.
 */
export function storeFailuresAsUnavailable<T extends object>(store: T): T {
  const wrapped = Object.create(store) as Record<string, unknown>;
  for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = (store as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof method !== 'function' || Object.hasOwn(wrapped, name)) continue;
      wrapped[name] = (...args: unknown[]) => {
        try {
          const result = (method as (...a: unknown[]) => unknown).apply(store, args);
          return result instanceof Promise ? result.catch(toUnavailable) : result;
        } catch (err) {
          return toUnavailable(err);
        }
      };
    }
  }
  return wrapped as T;
}

export function toUnavailable(err: unknown): never {
  // A TypeError is a caller's malformed argument (e.g. normalizeRevocation) or a bug, never an outage.
  throw err instanceof StoreUnavailable || err instanceof TypeError ? err : new StoreUnavailable(err);
}
