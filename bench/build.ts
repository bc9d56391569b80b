// The bench measures what ships. `npm start` and the image run the service compiled by tsc (`npm run build`:
// tsconfig.build.json), and tool servers install the verify SDK's dist build; tsx, which runs the bench itself,
// transpiles TypeScript on the fly with esbuild's keepNames (a `__name` call for every function it creates, closures
// made per request included) and source maps on. So the service and gateway processes run a tsc build of src/ (same
// compiler options as `npm run build`, into bench/results/build/), and the SDK figures come from packages/verify/dist.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = new URL('./results/build/', import.meta.url);

export interface BenchBuild {
  /** bench/server.ts, compiled: the service process. */
  server: string;
  /** bench/gateway_process.ts, compiled: scenario 9's gateway process. */
  gateway: string;
  /** A module of src/, compiled (e.g. `dpop/proof.js`), for an in-process measurement of the service's own code. */
  src(path: string): string;
}

let built: BenchBuild | undefined;

/** Builds the verify SDK (its own build script) and the service (tsc), once per process; a failed build throws. */
export function benchBuild(): BenchBuild {
  if (built) return built;
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const run = (what: string, file: string, args: string[]) => {
    try {
      execFileSync(file, args, { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });
    } catch (err) {
      // tsc reports on stdout: the first lines say what did not compile.
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
      throw new Error(`the bench build failed (${what}): ${`${stdout}${stderr}`.trim().split('\n').slice(0, 5).join(' | ')}`);
    }
  };
  // The compiled service imports the SDK by its package name, which resolves to its dist build without `source`.
  run('npm run build -w delegation-token-verify', 'npm', ['run', '--silent', 'build', '-w', 'delegation-token-verify']);
  run('tsc -p bench/tsconfig.build.json', process.execPath, [tsc, '-p', fileURLToPath(new URL('./tsconfig.build.json', import.meta.url))]);
  built = {
    server: fileURLToPath(new URL('bench/server.js', OUT)),
    gateway: fileURLToPath(new URL('bench/gateway_process.js', OUT)),
    src: (path) => fileURLToPath(new URL(`src/${path}`, OUT)),
  };
  return built;
}

/** The verify SDK as a tool server installs it (packages/verify/dist/esm), whatever conditions this process runs with. */
export async function shippedSdk(): Promise<typeof import('delegation-token-verify')> {
  benchBuild();
  return import(pathToFileURL(fileURLToPath(new URL('../packages/verify/dist/esm/index.js', import.meta.url))).href);
}

/** A module of the service as compiled for the bench (see benchBuild). */
export async function shippedSrc<T>(path: string): Promise<T> {
  return import(pathToFileURL(benchBuild().src(path)).href) as Promise<T>;
}
