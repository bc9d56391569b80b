// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02) on oidc-provider's experimental
// feature: which hosts may be fetched, how (SSRF guard, size and time limits, a rate shared by replicas), and which
// fetched clients are accepted.
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { OnboardingConfig } from '../config/schema.js';
import type { OnboardingStore } from '../stores/types.js';
import { dropMembers, refusalOf } from './client_rules.js';

/** The draft oidc-provider 9 implements; its `ack` must name it (the feature is experimental). */
export const CIMD_DRAFT = 'draft-02';

type CimdConfig = OnboardingConfig['clientIdMetadataDocument'];
type Fetch = (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => Promise<Response>;

/** The shortest time a document URL stays known after its latest accepted fetch (every accepted fetch starts it again). */
export const KNOWN_DOCUMENT_SECONDS = 86_400;

/**
 * How long a document URL stays known: a day, and always an hour past the longest time oidc-provider may serve the
 * document from its cache (`cacheSeconds.max`), since a cache hit does not refresh it: the document's next fetch then
 * still finds it known.
 */
export const knownDocumentSeconds = (cacheMaxSeconds: number): number => Math.max(KNOWN_DOCUMENT_SECONDS, cacheMaxSeconds + 3600);

/** The most fetched-but-not-yet-judged document URLs remembered (a fetch oidc-provider then rejects never reaches allowClient). */
const MAX_JUST_FETCHED = 1024;

export interface CimdDeps {
  config: CimdConfig;
  store: Pick<OnboardingStore, 'hit' | 'rememberDocument' | 'knownDocument'>;
  /** Where refusals are reported (log and audit); never sent to the client. */
  onRefused?: (clientId: string, reason: string) => void;
  /** A document accepted while `maxKnownDocuments` others are known: it is not known, so its fetches stay on its host's
   * budget for new URLs (for the log). */
  onNotKnown?: (clientId: string) => void;
}

/** The per-host fetch rate's key: the URL's host without the trailing dot of a fully qualified name, `:port` kept. */
const hostKey = (host: string) => host.toLowerCase().replace(/\.(?=(:\d+)?$)/, '');

/** A list entry: a hostname as the URL parser writes it (lowercase, punycode, canonical IP) and the port it names, if any. */
interface HostEntry {
  hostname: string;
  port?: string;
}

/** `example.com.` is `example.com` to DNS: the lists compare hostnames without it, so a denied host cannot be reached by adding one. */
const bareHostname = (hostname: string) => hostname.replace(/\.$/, '');
/** The port a document URL is fetched from (`client_id` URLs are https; the URL parser drops a default port). */
const portOf = (url: URL) => url.port || (url.protocol === 'http:' ? '80' : '443');

/** Parses `host` or `host:port` once, at boot; anything else is a configuration error, not an entry that never matches. */
function hostEntry(entry: string, list: string): HostEntry {
  const url = URL.parse(`https://${entry}`);
  if (!url || url.username || url.password || url.pathname !== '/' || url.search || url.hash || !/^[^/?#@\s]+$/.test(entry)) {
    throw new TypeError(`onboarding.clientIdMetadataDocument.${list}: not a host or host:port: ${JSON.stringify(entry)}`);
  }
  const hostname = bareHostname(url.hostname);
  // An explicit `:443` is dropped by the parser as the default port; it still names that port.
  return /:\d+$/.test(entry) ? { hostname, port: url.port || '443' } : { hostname };
}

/**
 * An allowed entry names `host` at the default port or `host:port` (the allow-list lifts the SSRF guard, so no more than
 * it names); a denied entry without a port denies every port of the host, since `deniedHosts` wins over everything.
 */
const allowedBy = (entries: HostEntry[], url: URL) => entries.some((e) => e.hostname === bareHostname(url.hostname) && (e.port ?? '443') === portOf(url));
const deniedBy = (entries: HostEntry[], url: URL) => entries.some((e) => e.hostname === bareHostname(url.hostname) && (e.port === undefined || e.port === portOf(url)));

/** Reads a body up to `limit` bytes; one byte more fails the fetch (draft-02 §4: the server may limit the size). */
async function readLimited(chunks: AsyncIterable<Uint8Array>, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit) throw new Error('client_id metadata document too large');
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

export interface CimdHooks {
  allowFetch(ctx: unknown, clientId: string): Promise<boolean>;
  allowClient(ctx: unknown, client: { clientId: string; metadata(): Record<string, unknown> }): Promise<boolean>;
  /** oidc-provider's `fetch`: document fetches go through the host rules; every other fetch is unchanged. */
  fetch: Fetch;
}

export function cimdHooks({ config, store, onRefused = () => undefined, onNotKnown = () => undefined }: CimdDeps): CimdHooks {
  const knownSeconds = knownDocumentSeconds(config.cacheSeconds.max);
  const ca = config.caFile ? [...rootCertificates, readFileSync(config.caFile, 'utf8')] : undefined;
  const allowed = config.allowedHosts.map((h) => hostEntry(h, 'allowedHosts'));
  const denied = config.deniedHosts.map((h) => hostEntry(h, 'deniedHosts'));
  // Document URLs allowFetch has just let through: only those fetches get the document rules.
  const documents = new Set<string>();
  // Document URLs fetched (200) and not yet judged by allowClient: only a fetched document it accepts becomes known.
  const justFetched = new Set<string>();
  const markFetched = (url: string) => {
    justFetched.delete(url);
    justFetched.add(url);
    if (justFetched.size > MAX_JUST_FETCHED) justFetched.delete(justFetched.values().next().value!);
  };

  /** An allow-listed host: fetched directly (its address may be private or loopback), with the extra CA if any. */
  const fetchListed = (url: URL, init: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: 'GET', headers: { accept: 'application/json' }, ...(ca ? { ca } : {}), timeout: config.fetchTimeoutMs }, (res) => {
        readLimited(res, config.maxDocumentBytes).then(
          (body) => resolve(new Response(new Uint8Array(body), { status: res.statusCode ?? 500, headers: res.headers as Record<string, string> })),
          (err: unknown) => {
            res.destroy();
            reject(err);
          },
        );
      });
      req.on('timeout', () => req.destroy(new Error('client_id metadata document fetch timed out')));
      req.on('error', reject);
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end();
    });

  return {
    async allowFetch(_ctx, clientId) {
      const url = new URL(clientId);
      const refuse = (reason: string) => {
        onRefused(clientId, reason);
        return false;
      };
      // draft-02 §6.5 (SSRF): the server should restrict which documents it fetches; the operator's deny list wins.
      if (deniedBy(denied, url)) return refuse('host_denied');
      if (config.onlyAllowedHosts && !allowedBy(allowed, url)) return refuse('host_not_allowed');
      // draft-02 §6.5 (SSRF): the server should restrict which documents it fetches. A host has two budgets: one for
      // URLs not known (a flood of made-up URLs spends only it) and one its known documents share, so that flood (which
      // also evicts documents from oidc-provider's bounded cache) cannot lock a real client out, and however many
      // documents of a host are known, the host is fetched at most twice `fetchesPerMinutePerHost` a minute.
      const known = await store.knownDocument(clientId);
      const { count } = await store.hit(`${known ? 'cimd-known' : 'cimd'}:${hostKey(url.host)}`, 60);
      if (count > config.fetchesPerMinutePerHost) return refuse(known ? 'known_fetch_rate_limited' : 'fetch_rate_limited');
      documents.add(clientId);
      return true;
    },
    async allowClient(_ctx, client) {
      const reason = refusalOf(client.metadata());
      // Called for cached clients too: only a fresh fetch that passes makes (or keeps) its URL known.
      const fresh = justFetched.delete(client.clientId);
      if (reason) onRefused(client.clientId, reason);
      else if (fresh && !(await store.rememberDocument(client.clientId, knownSeconds, config.maxKnownDocuments))) onNotKnown(client.clientId);
      return reason === undefined;
    },
    async fetch(input, options) {
      const href = String(input);
      if (!documents.delete(href)) return globalThis.fetch(input, options as RequestInit);
      const url = new URL(href);
      const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(config.fetchTimeoutMs)]);
      let response: Response;
      if (allowedBy(allowed, url)) {
        response = await fetchListed(url, { signal });
      } else {
        // Unlisted: oidc-provider's dispatcher refuses special-use (private, loopback, link-local) addresses.
        const fetched = await globalThis.fetch(input, { ...(options as RequestInit), signal });
        const body = fetched.body ? await readLimited(fetched.body as unknown as AsyncIterable<Uint8Array>, config.maxDocumentBytes) : Buffer.alloc(0);
        response = new Response(new Uint8Array(body), { status: fetched.status, headers: fetched.headers });
      }
      if (response.status === 200) markFetched(href);
      return withoutDroppedMembers(response, href);
    },
  };
}

/** RFC 7591 §2: the server "MAY reject or replace any of the client's requested metadata values". A document's
 * `scope` names tool scopes oidc-provider does not know as client metadata, and its `post_logout_redirect_uris` would
 * make `/session/end` an open redirector (RFC 9700 §4.11.2): both are dropped (client_rules.ts `DROPPED_MEMBERS`)
 * rather than failing the client. Anything else is left for oidc-provider. */
async function withoutDroppedMembers(response: Response, clientId: string): Promise<Response> {
  if (response.status !== 200) return response;
  const text = await response.text();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return new Response(text, { status: 200, headers: response.headers });
  }
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && (doc as Record<string, unknown>).client_id === clientId && dropMembers(doc as Record<string, unknown>)) {
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    return new Response(JSON.stringify(doc), { status: 200, headers });
  }
  return new Response(text, { status: 200, headers: response.headers });
}
