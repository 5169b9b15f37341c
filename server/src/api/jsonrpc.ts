// JSON-RPC 2.0 framing for the WebSocket API: parsing, request validation, error codes and response builders (pure).

export type JsonRpcId = string | number | null;

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Server-defined (the -32000..-32099 range): a per-connection limit (requests in flight, documents, document bytes). */
  TooManyRequests: -32001,
  /** Same numbers as LSP so clients can share handling. */
  RequestCancelled: -32800,
  ContentModified: -32801,
} as const;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
  /** Absent for notifications. */
  id?: JsonRpcId;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: JsonRpcError;
}

/** An error a method handler throws to answer with a specific JSON-RPC error. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
  toJson(): JsonRpcError {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

export function success(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result: result === undefined ? null : result };
}

export function failure(id: JsonRpcId, error: JsonRpcError): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error };
}

export function isValidId(id: unknown): id is JsonRpcId {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/** Either a valid request, or the error response to send (id null when it cannot be recovered). */
export type Checked = { ok: true; request: JsonRpcRequest } | { ok: false; response: JsonRpcResponse };

export function checkRequest(message: unknown): Checked {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return { ok: false, response: failure(null, { code: ErrorCode.InvalidRequest, message: 'invalid request: expected a JSON-RPC 2.0 request object' }) };
  }
  const m = message as Record<string, unknown>;
  const id = 'id' in m ? m.id : undefined;
  const replyId: JsonRpcId = isValidId(id) ? id : null;
  if (m.jsonrpc !== '2.0') {
    return { ok: false, response: failure(replyId, { code: ErrorCode.InvalidRequest, message: 'invalid request: "jsonrpc" must be "2.0"' }) };
  }
  if (typeof m.method !== 'string' || m.method.length === 0) {
    return { ok: false, response: failure(replyId, { code: ErrorCode.InvalidRequest, message: 'invalid request: "method" must be a non-empty string' }) };
  }
  if ('id' in m && !isValidId(id)) {
    return { ok: false, response: failure(null, { code: ErrorCode.InvalidRequest, message: 'invalid request: "id" must be a string, a number or null' }) };
  }
  // params null passes: the method answers -32602 when it needs parameters (methods without any accept it).
  if ('params' in m && m.params !== undefined && m.params !== null && typeof m.params !== 'object') {
    return { ok: false, response: failure(replyId, { code: ErrorCode.InvalidRequest, message: 'invalid request: "params" must be an object or an array' }) };
  }
  const request: JsonRpcRequest = { jsonrpc: '2.0', method: m.method };
  if ('params' in m) request.params = m.params;
  if ('id' in m) request.id = id as JsonRpcId;
  return { ok: true, request };
}

/** Parses one WebSocket text message: a single message or a batch, or a parse error response. */
export function parseMessage(text: string): { ok: true; batch: boolean; messages: unknown[] } | { ok: false; response: JsonRpcResponse } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, response: failure(null, { code: ErrorCode.ParseError, message: `parse error: ${err instanceof Error ? err.message : String(err)}` }) };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return { ok: false, response: failure(null, { code: ErrorCode.InvalidRequest, message: 'invalid request: empty batch' }) };
    }
    return { ok: true, batch: true, messages: value };
  }
  return { ok: true, batch: false, messages: [value] };
}
