// What the Dockerfile gives a container, read from its text (no Docker engine here): the runtime stage's ENV.
import assert from 'node:assert/strict';

/**
 * The environment the runtime stage's `ENV` lines give every container of the image (`ENV K=V [K=V ...]`, continued
 * with a backslash, or the legacy `ENV K V`): the service and the gateway alike, under whatever compose adds.
 */
export function imageEnv(text: string, stage = 'runtime'): Record<string, string> {
  const from = text.search(new RegExp(`^FROM \\S+ AS ${stage}$`, 'm'));
  assert.ok(from >= 0, `stage ${stage}`);
  const rest = text.slice(from).split('\n').slice(1);
  const end = rest.findIndex((line) => line.startsWith('FROM '));
  const body = (end < 0 ? rest : rest.slice(0, end)).join('\n').replace(/\\\n/g, ' ');
  const env: Record<string, string> = {};
  for (const [, args] of body.matchAll(/^ENV\s+(.*)$/gm)) {
    const pairs = [...args!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)];
    if (pairs.length) for (const [, k, v] of pairs) env[k!] = v!.replace(/^"(.*)"$/, '$1');
    else {
      const [k, ...v] = args!.trim().split(/\s+/);
      env[k!] = v.join(' ');
    }
  }
  return env;
}


/** The runtime stage's `HEALTHCHECK … CMD [exec form]`, as the argument vector Docker runs in the container. */
export function healthcheckCommand(text: string): string[] {
  const runtime = text.slice(text.search(/^FROM \S+ AS runtime$/m));
  const m = /^HEALTHCHECK [^\n]*(?:\\\n[^\n]*)*?CMD (\[.*\])$/m.exec(runtime);
  assert.ok(m, 'HEALTHCHECK … CMD [exec form]');
  return JSON.parse(m[1]!) as string[];
}
