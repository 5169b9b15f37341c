// A guard between the LSP byte stream and the connection: JSON-RPC 2.0 answers for what vscode-jsonrpc drops, and an
// exit when the framing itself is broken (issue 13, item 7).
//
// vscode-jsonrpc logs and drops an invalid JSON body, a message without `method`, `[]` and batches (LSP has
// none), and after a bad header (no, non-numeric or short Content-Length) it stops reading for good while the
// process stays alive. JSON-RPC 2.0 (https://www.jsonrpc.org/specification, §5.1, §6) asks for: -32700 with id
// null for a body that is not JSON, -32600 for an invalid request (with its id when it has one), one error per
// request of a batch, one -32600 for an empty batch. LSP 3.17 asks for -32002 (ServerNotInitialized) for a request
// before `initialize`, and for notifications before it to be dropped (except `exit`). A header error leaves the
// stream out of step with no way back: the guard reports it (onFatal), and the transport exits so the editor
// restarts the server.

import { AbstractMessageReader, type DataCallback, type Disposable, type Message, type MessageReader, type MessageWriter } from 'vscode-languageserver/node';
import { MAX_MESSAGE_DEPTH, nestedDeeperThan } from '../util/json.js';

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;
const SERVER_NOT_INITIALIZED = -32002;

type Id = string | number | null;
interface ErrorReply {
  jsonrpc: '2.0';
  id: Id;
  error: { code: number; message: string };
}

function reply(id: Id, code: number, message: string): ErrorReply {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

function validId(id: unknown): id is string | number {
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

export interface FramingState {
  /** `initialize` has been received (requests before it answer -32002). */
  initialized: boolean;
  /** `shutdown` has been received (the exit code when the input closes: 0 after it, 1 before). */
  shutdown?: boolean;
}

/**
 * Checks one decoded message: 'pass' hands it to the connection; otherwise the replies to send (possibly none:
 * a dropped notification). Pure apart from setting `state.initialized` when `initialize` passes.
 */
export function checkIncoming(message: unknown, state: FramingState): 'pass' | ErrorReply[] {
  if (Array.isArray(message)) {
    if (message.length === 0) return [reply(null, INVALID_REQUEST, 'invalid request: empty batch')];
    // LSP has no batches: every request in one gets its own error, notifications get none (JSON-RPC 2.0 §6).
    const out: ErrorReply[] = [];
    for (const m of message) {
      const isObject = typeof m === 'object' && m !== null && !Array.isArray(m);
      const id = isObject && 'id' in m ? (m as { id: unknown }).id : undefined;
      if (!isObject) out.push(reply(null, INVALID_REQUEST, 'invalid request: a batch element must be a request object'));
      else if (id !== undefined) out.push(reply(validId(id) ? id : null, INVALID_REQUEST, 'invalid request: batches are not supported over LSP; send each message on its own'));
    }
    return out;
  }
  if (typeof message !== 'object' || message === null) return [reply(null, INVALID_REQUEST, 'invalid request: expected a JSON-RPC 2.0 object')];
  const m = message as Record<string, unknown>;
  const hasId = 'id' in m && m.id !== undefined;
  const replyId: Id = hasId && validId(m.id) ? m.id : null;
  const isResponse = !('method' in m) && ('result' in m || 'error' in m);
  if (nestedDeeperThan(m, MAX_MESSAGE_DEPTH)) {
    return hasId && !isResponse ? [reply(replyId, INVALID_REQUEST, `invalid request: nested deeper than ${MAX_MESSAGE_DEPTH} levels`)] : [];
  }
  if (isResponse) return 'pass';
  if (typeof m.method !== 'string' || m.method.length === 0) {
    return [reply(replyId, INVALID_REQUEST, 'invalid request: "method" must be a non-empty string')];
  }
  if (m.jsonrpc !== '2.0') return hasId ? [reply(replyId, INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')] : [];
  if (hasId && !validId(m.id)) return [reply(null, INVALID_REQUEST, 'invalid request: "id" must be a string or a number')];
  if (m.method === 'shutdown' && hasId) state.shutdown = true;
  if (!state.initialized) {
    if (m.method === 'initialize' && hasId) {
      state.initialized = true;
      return 'pass';
    }
    if (!hasId) return m.method === 'exit' ? 'pass' : [];
    return [reply(replyId, SERVER_NOT_INITIALIZED, `server not initialized: send "initialize" before ${JSON.stringify(m.method)}`)];
  }
  // vscode-languageserver reads params (work-done and partial-result tokens) before our handlers run: null would
  // answer a TypeError as -32603. Every LSP request the server handles takes an object, except shutdown.
  if (hasId && m.params === null && m.method !== 'shutdown') {
    return [reply(replyId, INVALID_PARAMS, `invalid params: ${JSON.stringify(m.method)} takes an object, not null`)];
  }
  return 'pass';
}

/** A body that decoded to something other than JSON (the stream is still in step: the next header follows). */
function isBodyParseError(err: unknown): boolean {
  return err instanceof SyntaxError;
}

class GuardedReader extends AbstractMessageReader implements MessageReader {
  readonly state: FramingState = { initialized: false };
  constructor(
    private readonly inner: MessageReader,
    private readonly writer: MessageWriter,
    private readonly onFatal: (error: Error) => void,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const subscriptions = [
      this.inner.onError((err) => {
        if (isBodyParseError(err)) {
          void this.send([reply(null, PARSE_ERROR, `parse error: the message body is not JSON (${err.message})`)]);
        } else {
          this.fireError(err);
          this.onFatal(err);
        }
      }),
      this.inner.onClose(() => this.fireClose()),
      this.inner.onPartialMessage((info) => this.firePartialMessage(info)),
    ];
    const listening = this.inner.listen((message) => {
      const verdict = checkIncoming(message, this.state);
      if (verdict === 'pass') callback(message);
      else void this.send(verdict);
    });
    return {
      dispose: () => {
        for (const s of subscriptions) s.dispose();
        listening.dispose();
      },
    };
  }

  private async send(replies: ErrorReply[]): Promise<void> {
    if (replies.length === 0) return;
    try {
      // A batch gets an array back (JSON-RPC 2.0 §6); the writer serializes whatever it is given.
      await this.writer.write((replies.length === 1 ? replies[0] : replies) as unknown as Message);
    } catch {
      // The client went away; the connection's own close handling takes over.
    }
  }

  override dispose(): void {
    super.dispose();
    this.inner.dispose();
  }
}

/**
 * Wraps a reader so that invalid messages are answered per JSON-RPC 2.0 / LSP instead of dropped, and a broken
 * header calls `onFatal` (the transport logs and exits non-zero: the editor restarts the server).
 */
export function guardReader(reader: MessageReader, writer: MessageWriter, onFatal: (error: Error) => void): MessageReader & { readonly state: FramingState } {
  return new GuardedReader(reader, writer, onFatal);
}
