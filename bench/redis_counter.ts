// Counts the Redis commands and round trips of this process by wrapping ioredis' sendCommand (bench only).
import { createHash } from 'node:crypto';
import { Pipeline, Redis } from 'ioredis';
import { consumeLua, revokeGrantLua } from '../src/stores/redis/oidc_scripts.js';
import { readOpaqueSubjectLua, readOpaqueTokenLua, revocationSnapshotLua, revokeLua } from '../src/stores/redis/revocation_scripts.js';
import { recordIssuedLua } from '../src/stores/redis/session_scripts.js';
import { auditAppendLua } from '../src/stores/redis/audit_log.js';
import type { RedisCounts } from './ipc.js';

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const scriptNames = new Map(
  Object.entries({ consume: consumeLua, revokeGrant: revokeGrantLua, readOpaqueSubject: readOpaqueSubjectLua, readOpaqueToken: readOpaqueTokenLua, revoke: revokeLua, revocationSnapshot: revocationSnapshotLua, recordIssued: recordIssuedLua, auditAppend: auditAppendLua }).map(
    ([name, lua]) => [sha1(lua), `evalsha ${name}`],
  ),
);

interface CommandLike {
  name: string;
  args: unknown[];
}

/**
 * A command written with a `stream` argument is part of a pipeline, MULTI or auto-pipelined batch, flushed together:
 * only the pipeline's `exec` is a round trip (auto-pipelining calls it once per flushed batch). Blocking reads (XREAD
 * BLOCK of the feed tail) are counted but are not on any request's path.
 */
export function countRedisCommands(): { read(reset: boolean): RedisCounts } {
  let commands = new Map<string, number>();
  let roundTrips = 0;
  const proto = Redis.prototype as unknown as { sendCommand(command: CommandLike, stream?: unknown): unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: unknown, command: CommandLike, stream?: unknown) {
    const script = command.name === 'evalsha' ? String(command.args[0]) : command.name === 'eval' ? sha1(String(command.args[0])) : undefined;
    const name = script === undefined ? command.name : (scriptNames.get(script) ?? command.name);
    commands.set(name, (commands.get(name) ?? 0) + 1);
    if (stream === undefined) roundTrips++;
    return original.call(this, command, stream);
  };
  const pipelineProto = Pipeline.prototype as unknown as { exec(...args: unknown[]): unknown };
  const exec = pipelineProto.exec;
  pipelineProto.exec = function (this: unknown, ...args: unknown[]) {
    roundTrips++;
    return exec.apply(this, args);
  };
  return {
    read(reset) {
      const out = { commands: Object.fromEntries([...commands].sort((a, b) => b[1] - a[1])), roundTrips };
      if (reset) {
        commands = new Map();
        roundTrips = 0;
      }
      return out;
    },
  };
}
