// Counts the Redis commands and round trips of this process by wrapping ioredis' sendCommand (bench only).
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { consumeLua, revokeGrantLua } from '../src/stores/redis/oidc_scripts.js';
import { readOpaqueSubjectLua, revocationSnapshotLua, revokeLua } from '../src/stores/redis/revocation_scripts.js';
import { recordIssuedLua } from '../src/stores/redis/session_scripts.js';
import { auditAppendLua } from '../src/stores/redis/audit_log.js';
import type { RedisCounts } from './ipc.js';

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const scriptNames = new Map(
  Object.entries({ consume: consumeLua, revokeGrant: revokeGrantLua, readOpaqueSubject: readOpaqueSubjectLua, revoke: revokeLua, revocationSnapshot: revocationSnapshotLua, recordIssued: recordIssuedLua, auditAppend: auditAppendLua }).map(
    ([name, lua]) => [sha1(lua), `evalsha ${name}`],
  ),
);

interface CommandLike {
  name: string;
  args: unknown[];
}

/**
 * A command written with a `stream` argument is part of a pipeline or MULTI, flushed together: only its `exec` (or
 * the pipeline as a whole) is a round trip. Blocking reads (XREAD BLOCK of the feed tail) are counted but are not
 * on any request's path.
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
    if (stream === undefined || command.name === 'exec') roundTrips++;
    return original.call(this, command, stream);
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
