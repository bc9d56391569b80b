// Which request bodies the gateway reads: `application/json` in UTF-8, not content-coded. The body is decided as UTF-8
// JSON and upstream is told it is exactly that (upstream.ts), so a body meant in another charset or coding is refused.
import type { IncomingHttpHeaders } from 'node:http';

/** Why a POST's representation is refused (the decision event's reason), or undefined when it is read. */
export type RepresentationFailure = 'unsupported_media_type' | 'unsupported_content_encoding';

// RFC 9110 §5.6.2: token = 1*tchar; §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; §5.6.3: OWS.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})`, 'y');
const PARAMETER = new RegExp(`[\\t ]*;[\\t ]*(?:(${TOKEN})=(${TOKEN}|${QUOTED}))?`, 'y');

/**
 * RFC 9110 §8.3.1: `media-type = type "/" subtype parameters`, `parameters = *( OWS ";" OWS [ parameter ] )`,
 * `parameter = parameter-name "=" ( token / quoted-string )`; type, subtype and parameter names are case-insensitive.
 * Undefined for anything else, or a parameter named twice (parsers differ on which one counts).
 */
export function parseMediaType(value: string): { type: string; parameters: Map<string, string> } | undefined {
  MEDIA_TYPE.lastIndex = 0;
  const head = MEDIA_TYPE.exec(value);
  if (!head) return undefined;
  const parameters = new Map<string, string>();
  let at = MEDIA_TYPE.lastIndex;
  while (at < value.length) {
    PARAMETER.lastIndex = at;
    const p = PARAMETER.exec(value);
    if (!p || PARAMETER.lastIndex === at) return undefined;
    at = PARAMETER.lastIndex;
    if (p[1] === undefined) continue;
    const name = p[1].toLowerCase();
    if (parameters.has(name)) return undefined;
    const raw = p[2]!;
    parameters.set(name, raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
  }
  return { type: `${head[1]}/${head[2]}`.toLowerCase(), parameters };
}

/**
 * Whether a POST body may be read: `Content-Type` `application/json` (parameters allowed; a `charset`, if any, is
 * `utf-8`, RFC 8259 §8.1) and no `Content-Encoding` but `identity`.
 */
export function representationFailure(headers: IncomingHttpHeaders): RepresentationFailure | undefined {
  // RFC 9110 §8.4: "If one or more encodings have been applied to a representation, the sender that applied the
  // encodings MUST generate a Content-Encoding header field"; the gateway decodes none, so it reads none.
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return 'unsupported_content_encoding';
  // RFC 9110 §8.3: the recipient reads the content as its Content-Type says; upstream's JSON parser honours `charset`
  // (UTF-7, UTF-16), so a body the gateway would decide as UTF-8 must be UTF-8 for everyone.
  const media = headers['content-type'] === undefined ? undefined : parseMediaType(headers['content-type']);
  if (!media || media.type !== 'application/json') return 'unsupported_media_type';
  const charset = media.parameters.get('charset');
  if (charset !== undefined && charset.toLowerCase() !== 'utf-8') return 'unsupported_media_type';
  return undefined;
}
