// Requests fetch cannot make: one header field sent on several lines.
import { request, type IncomingHttpHeaders } from 'node:http';

/** A GET with one Authorization field line per value (fetch would join them into one line). */
export function getWithAuthorizations(url: string, authorizations: string[]): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.setHeader('authorization', authorizations);
    req.on('error', reject);
    req.end();
  });
}
