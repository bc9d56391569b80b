// The facts a reader needs to compare two bench results: CPU, cores, Node, Redis, load at start.
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

export async function machineFacts(redis: Redis): Promise<Record<string, string>> {
  const info = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    cpu: `${cpuModel()} (${availableParallelism()} cores available)`,
    memory: `${Math.round(totalmem() / 1024 ** 3)} GiB`,
    node: process.version,
    redis: redisVersion,
    loadavg: loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}
