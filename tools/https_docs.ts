// An HTTPS server for Client ID Metadata Documents (tests and the example): a throwaway self-signed certificate for
// 127.0.0.1 (its PEM is the CA the service is told to trust), per-path documents, and a count of requests per path.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DocServer {
  /** `https://127.0.0.1:<port>` */
  origin: string;
  /** `127.0.0.1:<port>`, as listed in `allowedHosts`. */
  host: string;
  caFile: string;
  /** Serves `body` (a JSON value, or raw text) at `path`. */
  set(path: string, body: unknown, headers?: Record<string, string>): void;
  /** Requests seen per path. */
  hits(path: string): number;
  close(): Promise<void>;
}

export async function startDocServer(): Promise<DocServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dts-cimd-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  const docs = new Map<string, { body: string; headers: Record<string, string> }>();
  const hits = new Map<string, number>();
  const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const doc = docs.get(path);
    if (!doc) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...doc.headers }).end(doc.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `https://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    caFile: cert,
    set(path, body, headers = {}) {
      docs.set(path, { body: typeof body === 'string' ? body : JSON.stringify(body), headers });
    },
    hits: (path) => hits.get(path) ?? 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
