// A tiny JSON-RPC-over-WebSocket test client for the headless API.

import { WebSocket } from 'ws';
import { Waiters } from '../support/waiters.js';

export interface TestClient {
  ws: WebSocket;
  messages: any[];
  /** Sends a request and resolves with its response; rejects after `timeoutMs` (default 3 s). */
  call(method: string, params?: unknown, timeoutMs?: number): Promise<any>;
  sendRaw(data: string | Buffer): void;
  /** Resolves with the next message matching `predicate`. */
  next(predicate: (message: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): void;
}

let nextId = 1;

export function connect(url: string, headers: Record<string, string>): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const messages: any[] = [];
    const waiters = new Waiters();
    ws.on('message', (data) => {
      messages.push(JSON.parse(data.toString()));
      waiters.notify();
    });
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode })));
    ws.on('error', reject);
    ws.on('open', () => {
      const client: TestClient = {
        ws,
        messages,
        next(predicate, timeoutMs = 3000) {
          let seen = 0;
          return waiters.until(
            () => {
              for (; seen < messages.length; seen++) if (predicate(messages[seen])) return { message: messages[seen] };
              return undefined;
            },
            timeoutMs,
            () => new Error(`timed out; messages: ${JSON.stringify(messages).slice(0, 500)}`),
          ).then((hit) => hit.message);
        },
        call(method, params, timeoutMs) {
          const id = nextId++;
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
          return client.next((m) => m.id === id && !('method' in m), timeoutMs);
        },
        sendRaw(data) {
          ws.send(data);
        },
        close() {
          ws.close();
        },
      };
      resolve(client);
    });
  });
}
