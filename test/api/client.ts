// A tiny JSON-RPC-over-WebSocket test client for the headless API.

import { WebSocket } from 'ws';

export interface TestClient {
  ws: WebSocket;
  messages: any[];
  call(method: string, params?: unknown): Promise<any>;
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
    const waiters = new Set<() => void>();
    ws.on('message', (data) => {
      messages.push(JSON.parse(data.toString()));
      for (const w of [...waiters]) w();
    });
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode })));
    ws.on('error', reject);
    ws.on('open', () => {
      const client: TestClient = {
        ws,
        messages,
        next(predicate, timeoutMs = 3000) {
          return new Promise((res, rej) => {
            let seen = 0;
            const check = (): boolean => {
              for (; seen < messages.length; seen++) {
                if (predicate(messages[seen])) {
                  res(messages[seen]);
                  return true;
                }
              }
              return false;
            };
            if (check()) return;
            const waiter = (): void => {
              if (check()) {
                waiters.delete(waiter);
                clearTimeout(timer);
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(waiter);
              rej(new Error(`timed out; messages: ${JSON.stringify(messages).slice(0, 500)}`));
            }, timeoutMs);
            waiters.add(waiter);
          });
        },
        call(method, params) {
          const id = nextId++;
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
          return client.next((m) => m.id === id && !('method' in m));
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
