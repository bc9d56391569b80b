// A minimal text/event-stream parser (WHATWG HTML "Server-sent events" §9.2.6), fed decoded text chunks.

export interface SseEvent {
  /** The `event` field, or "message" when absent. */
  type: string;
  data: string;
  /** The last event id seen on this stream so far (ids persist across events, as in EventSource). */
  lastEventId: string;
}

export class SseParser {
  #buffer = '';
  #started = false;
  #type = '';
  #data: string[] = [];
  #lastEventId = '';

  constructor(lastEventId = '') {
    this.#lastEventId = lastEventId;
  }

  /** Feed the next chunk of text; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.#buffer += chunk;
    if (!this.#started && this.#buffer.length > 0) {
      // A leading U+FEFF is stripped once, at the very start of the stream.
      if (this.#buffer.charCodeAt(0) === 0xfeff) this.#buffer = this.#buffer.slice(1);
      this.#started = true;
    }
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (!match) break;
      // A lone CR at the end of the buffer may be the first half of a CRLF split across chunks.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined; // comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#type = value;
        break;
      case 'data':
        this.#data.push(value);
        break;
      case 'id':
        if (!value.includes('\u0000')) this.#lastEventId = value;
        break;
      default:
        // `retry` and unknown fields are ignored: reconnection timing is ours (capped exponential backoff).
        break;
    }
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    // Unlike EventSource, an event with a type but no data is still dispatched: `event: reset` may carry no data.
    const dispatch = this.#data.length > 0 || this.#type !== '';
    const event = { type: this.#type || 'message', data: this.#data.join('\n'), lastEventId: this.#lastEventId };
    this.#type = '';
    this.#data = [];
    return dispatch ? event : undefined;
  }
}
