// Redis memory under the bench's key prefix, by key family (MEMORY USAGE, exact: SAMPLES 0), for per-item deltas.
import type { Redis } from 'ioredis';

export type FamilyBytes = Record<string, number>;

/**
 * `oidc:Session:<id>` -> `oidc:Session`, `sess:by-sub:<sub>` -> `sess:by-sub`, `rev:index` -> `rev:index`, `audit` ->
 * `audit`, and `dpop:<replay key>` -> `dpop` (one family, not one per proof).
 */
export function keyFamily(prefix: string, key: string): string {
  const parts = key.slice(prefix.length).split(':');
  if (parts[0] === 'dpop') return 'dpop';
  return parts.length <= 2 ? parts.join(':') : parts.slice(0, 2).join(':');
}

export async function prefixMemory(redis: Redis, prefix: string): Promise<FamilyBytes> {
  const families: FamilyBytes = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const results = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const bytes = Number(results[i]?.[1] ?? 0); // null: the key expired in between
      const family = keyFamily(prefix, key);
      families[family] = (families[family] ?? 0) + bytes;
    });
  } while (cursor !== '0');
  return families;
}

/** after - before, per family, dropping families that did not change. */
export function familyDelta(before: FamilyBytes, after: FamilyBytes): FamilyBytes {
  const out: FamilyBytes = {};
  for (const family of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[family] ?? 0) - (before[family] ?? 0);
    if (d !== 0) out[family] = d;
  }
  return out;
}

export const sumBytes = (families: FamilyBytes, filter: (family: string) => boolean = () => true) =>
  Object.entries(families).reduce((n, [family, bytes]) => (filter(family) ? n + bytes : n), 0);
