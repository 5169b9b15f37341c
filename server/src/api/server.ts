// The headless WebSocket API server: authenticates upgrades (bearer token, Origin), frames JSON-RPC, isolates connections.
//
// Security model: bound to 127.0.0.1 by default; every connection must present the token
// (`Authorization: Bearer <token>`, or `?token=` for browser pages on an allowed origin);
// any request carrying an Origin header (i.e. from a browser page) is refused unless that
// origin is allow-listed. One connection's errors, floods or oversized messages never reach
// another: each has its own documents, in-flight limit and error handling.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { EngineHost } from '../config/engine-host.js';
import { DEFAULT_SETTINGS, type Settings } from '../config/settings.js';
import { MAX_MESSAGE_DEPTH, nestedDeeperThan } from '../util/json.js';
import { ErrorCode, checkRequest, failure, isValidId, parseMessage, type JsonRpcResponse } from './jsonrpc.js';
import { ApiSession } from './session.js';
import { tokenMatches } from './token.js';

export interface ApiServerOptions {
  engine: EngineHost;
  token: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Origins (e.g. "http://localhost:5173") allowed to connect from a browser; "*" allows any. */
  allowedOrigins?: string[];
  /** Largest message answered with a JSON-RPC error instead of being processed (bytes). */
  maxMessageBytes?: number;
  maxConcurrentRequests?: number;
  /** Per connection: open documents plus prefix-mode document keys (default 64); past it, -32001. */
  maxDocuments?: number;
  /** Per connection: memory bytes of open documents' text (default 64 MiB); past it, -32001. */
  maxDocumentBytes?: number;
  settings?: () => Settings;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface ApiServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  close(): Promise<void>;
}

export const DEFAULT_API_PORT = 7733;
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 4;
/** Messages above maxMessageBytes × this factor are not even buffered: ws closes the socket (1009). */
const HARD_LIMIT_FACTOR = 4;

/** True for names and addresses that stay on this machine: localhost, 127.0.0.0/8, ::1 (and its IPv4-mapped form). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

function reject(socket: Duplex, status: number, reason: string, extraHeaders: string[] = []): void {
  const body = `${reason}\n`;
  socket.end(
    [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', ...extraHeaders, '', body].join('\r\n'),
  );
}

function presentedToken(request: http.IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match !== null) return match[1];
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  return url.searchParams.get('token') ?? undefined;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const hostName = options.host ?? '127.0.0.1';
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxConcurrentRequests = options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS;
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  const log = options.log ?? (() => {});
  const settings = options.settings ?? (() => DEFAULT_SETTINGS as Settings);
  const sessions = new Map<WebSocket, ApiSession>();

  const httpServer = http.createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket' });
    res.end('infill-ls WebSocket API: connect with a WebSocket client and an "Authorization: Bearer <token>" header\n');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes * HARD_LIMIT_FACTOR });

  httpServer.on('upgrade', (request, socket, head) => {
    socket.on('error', () => {});
    const origin = request.headers.origin;
    if (origin !== undefined && !allowedOrigins.has('*') && !allowedOrigins.has(origin)) {
      log('warn', `refused a WebSocket connection from origin ${origin} (not in --allow-origin)`);
      reject(socket, 403, `origin ${origin} is not allowed; start the server with --allow-origin ${origin} to allow it`);
      return;
    }
    if (!tokenMatches(presentedToken(request), options.token)) {
      reject(socket, 401, 'missing or wrong bearer token (send "Authorization: Bearer <token>")', ['WWW-Authenticate: Bearer realm="infill-ls"']);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  const unsubscribe = options.engine.onStatus((status) => {
    for (const ws of sessions.keys()) send(ws, { jsonrpc: '2.0', method: 'status/changed', params: status });
  });

  function send(ws: WebSocket, message: unknown): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(message), (err) => {
      if (err) log('warn', `send failed: ${err.message}`);
    });
  }

  wss.on('connection', (ws: WebSocket) => {
    const session = new ApiSession({
      engine: options.engine,
      settings,
      maxConcurrentRequests,
      maxDocuments: options.maxDocuments,
      maxDocumentBytes: options.maxDocumentBytes,
      notify: (method, params) => send(ws, { jsonrpc: '2.0', method, params }),
      log,
    });
    sessions.set(ws, session);
    ws.on('error', (err) => log('warn', `connection error: ${err.message}`));
    ws.on('close', () => {
      session.dispose();
      sessions.delete(ws);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      void onMessage(ws, session, data, isBinary).catch((err: unknown) => {
        log('error', `unexpected failure handling a message: ${String(err)}`);
        send(ws, failure(null, { code: ErrorCode.InternalError, message: 'internal error' }));
      });
    });
  });

  async function onMessage(ws: WebSocket, session: ApiSession, data: RawData, isBinary: boolean): Promise<void> {
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length;
    if (bytes > maxMessageBytes) {
      send(ws, failure(null, { code: ErrorCode.InvalidRequest, message: `message too large: ${bytes} bytes (limit ${maxMessageBytes})` }));
      return;
    }
    if (isBinary) {
      send(ws, failure(null, { code: ErrorCode.InvalidRequest, message: 'binary messages are not supported: send JSON-RPC as text' }));
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
    const parsed = parseMessage(text);
    if (!parsed.ok) {
      send(ws, parsed.response);
      return;
    }
    const responses = await Promise.all(
      parsed.messages.map(async (message): Promise<JsonRpcResponse | undefined> => {
        if (nestedDeeperThan(message, MAX_MESSAGE_DEPTH)) {
          // Refused before any handler walks it (recursion on 100k levels overflows the stack); the id, when valid, is kept.
          const id = typeof message === 'object' && message !== null && !Array.isArray(message) ? (message as { id?: unknown }).id : undefined;
          return failure(isValidId(id) ? id : null, { code: ErrorCode.InvalidRequest, message: `invalid request: nested deeper than ${MAX_MESSAGE_DEPTH} levels` });
        }
        const checked = checkRequest(message);
        if (!checked.ok) return checked.response;
        return session.handle(checked.request);
      }),
    );
    const replies = responses.filter((r): r is JsonRpcResponse => r !== undefined);
    if (replies.length === 0) return;
    send(ws, parsed.batch ? replies : replies[0]);
  }

  await new Promise<void>((resolve, rejectListen) => {
    httpServer.once('error', rejectListen);
    httpServer.listen(options.port ?? DEFAULT_API_PORT, hostName, () => {
      httpServer.off('error', rejectListen);
      resolve();
    });
  });
  const address = httpServer.address() as AddressInfo;
  if (!isLoopbackHost(hostName)) {
    log('warn', `--host ${hostName}: the API is reachable from the network on port ${address.port}; anyone who learns the token can read the documents sent to it (use 127.0.0.1 unless you mean it)`);
  }
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `ws://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    get connections() {
      return sessions.size;
    },
    async close() {
      unsubscribe();
      for (const [ws, session] of sessions) {
        session.dispose();
        ws.close(1001, 'server shutting down');
      }
      wss.close();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}
