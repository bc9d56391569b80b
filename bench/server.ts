// The service under test, in its own process (forked by bench/service_process.ts), so the load generator does not
// share its CPU. Answers the parent over IPC: memory (optionally after a forced GC), Redis command counts, revoke.
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { createService } from '../src/service.js';
import { tokenDigest } from '../src/sessions/revocation.js';
import { benchConfig } from './config.js';
import { SUBJECT_READ_HEADER, type ChildMessage, type ParentMessage, type ServerStartOptions } from './ipc.js';
import { countRedisCommands } from './redis_counter.js';

const send = (message: ChildMessage) => process.send?.(message);


async function main(): Promise<void> {
  const options = JSON.parse(process.env.BENCH_SERVER ?? '') as ServerStartOptions;
  const counter = countRedisCommands();
  const config = parseConfig(benchConfig(options));
  const service = await createService(config, { logger: pino({ level: 'silent' }) });
  // Scenario 1's floor: a client_credentials request that also makes the exchange's one store read of a user token
  // (the same call, on the same connection), so the bench can show what that read alone costs against the baseline.
  // Answers 500 when the token is not found, which the bench counts as a failed request.
  service.provider.use(async (ctx, next) => {
    const token = ctx.get(SUBJECT_READ_HEADER);
    if (token) {
      const read = await service.stores.exchange.readOpaqueToken(token, tokenDigest(token));
      if (!read.token) {
        ctx.status = 500;
        return;
      }
    }
    await next();
  });
  await service.listen(options.port, '127.0.0.1');

  const handlers: { [K in ParentMessage['type']]: (m: Extract<ParentMessage, { type: K }>) => Promise<unknown> } = {
    memory: async ({ gc }) => {
      if (gc) {
        const collect = (globalThis as { gc?: () => void }).gc;
        if (!collect) throw new Error('the service process was started without --expose-gc');
        // Twice: the first pass can leave finalizers whose garbage the second one collects.
        collect();
        collect();
      }
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    },
    // User + system CPU microseconds of this process so far (the parent takes deltas around a run).
    cpu: async () => {
      const { user, system } = process.cpuUsage();
      return user + system;
    },
    // Milliseconds the main thread's event loop was not waiting for I/O so far (performance.eventLoopUtilization's
    // `active`): the service handles every request on that one thread, so when it is busy all the time, throughput is
    // 1 / (active time per request) whatever the other cores do.
    'main-thread': async () => performance.eventLoopUtilization().active,
    'redis-counts': async ({ reset }) => counter.read(reset),
    revoke: async ({ sid }) => service.revocation.revoke({ kind: 'sid', value: sid, by: 'bench', reason: 'bench' }),
    // Audit events are stored in batches and session records after the response: wait for both before measuring Redis.
    settle: async () => {
      await service.flushAudit();
      await new Promise((resolve) => setTimeout(resolve, 200));
    },
    stop: async () => {
      await service.close();
      setImmediate(() => process.exit(0));
    },
  };
  process.on('message', (message: ParentMessage) => {
    const handle = handlers[message.type] as (m: ParentMessage) => Promise<unknown>;
    handle(message).then(
      (value) => send({ id: message.id, type: 'reply', ok: true, value }),
      (err: unknown) => send({ id: message.id, type: 'reply', ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  // The parent going away (crash, Ctrl-C) must not leave a service listening.
  process.on('disconnect', () => void service.close().finally(() => process.exit(0)));
  send({ type: 'ready', startupMs: performance.now() });
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) });
  process.exitCode = 1;
});
