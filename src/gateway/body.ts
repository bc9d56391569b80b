// Reads one request body within the gateway's limit, and tells a body too large from a client that went away.
import type { IncomingMessage } from 'node:http';

/** Reads at most `limit` bytes: the body, `too_large` when it is larger (declared or actual), `closed` when the client
 * went away before it ended. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large' | 'closed'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too_large');
  // Gone while its token was verified: node:http emits no 'error' without a listener, and no 'end' will come.
  if (req.destroyed) return Promise.resolve('closed');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    // A connection closed mid-body: 'error' ("aborted", ECONNRESET), then 'close' without 'end' (after it, a no-op).
    req.on('error', () => resolve('closed'));
    req.on('close', () => resolve('closed'));
  });
}
