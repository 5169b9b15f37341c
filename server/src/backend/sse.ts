// The event stream of a remote completion server: OpenAI-compatible `/v1/completions` and llama-server `/infill`
// with `stream: true` answer server-sent events, one JSON object per `data:` line, ended by `data: [DONE]`
// (OpenAI) or by the connection closing (llama-server, which also reports failures on an `error:` line).
// Format: WHATWG HTML "Server-sent events" §9.2 (a line is `field: value`), one event per line as these servers send.

/**
 * Yields the parsed JSON object of every line whose field is one of `fields` (default `data`), in order, from a
 * streamed HTTP body; stops at `data: [DONE]` or the body's end. Lines of other fields (comments, `event:`, `id:`)
 * and values that are not JSON objects (not JSON, or `null`, a number, a string, an array) are skipped, so a proxy's
 * keep-alive comments do no harm and a reader may look up fields of every value it gets. Never throws on content;
 * errors of the body itself (a reset connection, an abort) propagate. Breaking out of the loop releases the body.
 */
export async function* sseJson<T>(body: AsyncIterable<Uint8Array>, fields: readonly string[] = ['data']): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      const colon = line.indexOf(':');
      if (colon <= 0 || !fields.includes(line.slice(0, colon))) continue;
      const value = line.slice(colon + 1).trim();
      if (value === '[DONE]') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        continue;
      }
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) yield parsed as T;
    }
  }
}
