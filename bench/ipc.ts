// The messages between the bench (parent) and the service process it forks (bench/server.ts).

/** Set by scenario 1's `floor` kind (bench/scenarios/exchange.ts) to a user's opaque access token (bench/server.ts). */
export const SUBJECT_READ_HEADER = 'x-bench-subject-read';

export interface ServerStartOptions {
  port: number;
  redisUrl: string;
  /** Redis Cluster seeds: when set, the service uses the cluster instead of `redisUrl`. */
  redisClusterNodes?: string[];
  keyPrefix: string;
  keysDir: string;
  /** A replica of another bench service: its issuer (keys, secrets and prefix are shared too). */
  issuer?: string;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Redis commands this process sent, by name (scripts by their store name), and how many round trips that took. */
export interface RedisCounts {
  commands: Record<string, number>;
  roundTrips: number;
}

export type ParentMessage =
  | { id: number; type: 'memory'; gc: boolean }
  | { id: number; type: 'redis-counts'; reset: boolean }
  | { id: number; type: 'revoke'; sid: string }
  | { id: number; type: 'settle' }
  | { id: number; type: 'cpu' }
  | { id: number; type: 'main-thread' }
  | { id: number; type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; startupMs: number }
  | { type: 'failed'; error: string }
  | { id: number; type: 'reply'; ok: true; value: unknown }
  | { id: number; type: 'reply'; ok: false; error: string };
