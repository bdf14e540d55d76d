// Incremental parser for Server-Sent Events (the wire format of streamed OpenAI-compatible chat completions):
// lines `field: value`, events separated by a blank line, `data` lines of one event joined with "\n", comments
// (lines starting with ':') ignored, CR, LF and CRLF line endings accepted, chunks split anywhere.

export interface SseEvent {
  event?: string;
  data: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event: string | undefined;
  private sawCr = false;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    // A CR at the end of the last chunk may be the first half of CRLF.
    if (this.sawCr && text.startsWith('\n')) text = text.slice(1);
    this.sawCr = text.endsWith('\r');
    this.buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  /** The end of the stream: an unterminated last event is dispatched. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.buffer !== '') this.line(this.buffer, out);
    this.buffer = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        const ev: SseEvent = { data: this.data.join('\n') };
        if (this.event !== undefined) ev.event = this.event;
        out.push(ev);
      }
      this.data = [];
      this.event = undefined;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}
