// An in-memory LSP client ↔ server pair (no process, no editor) for transport tests.

import { PassThrough } from 'node:stream';
import {
  CancellationTokenSource,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  WorkDoneProgress,
  createConnection,
  createProtocolConnection,
  type ClientCapabilities,
  type InitializeResult,
  type ProtocolConnection,
} from 'vscode-languageserver/node';
import { attachLspServer, type LspServer, type LspServerOptions } from '../../server/src/lsp/server.js';

export interface Harness {
  client: ProtocolConnection;
  server: LspServer;
  notifications: Array<{ method: string; params: unknown }>;
  requests: Array<{ method: string; params: unknown }>;
  initializeResult: InitializeResult;
  /** What the client answers to workspace/configuration. */
  configuration: unknown;
  waitFor(method: string, predicate?: (params: any) => boolean, timeoutMs?: number): Promise<any>;
  request<R>(method: string, params: unknown, cancel?: CancellationTokenSource): Promise<R>;
  open(uri: string, text: string, languageId?: string, version?: number): void;
  close(): Promise<void>;
}

export const INLINE_CAPABILITIES: ClientCapabilities = {
  textDocument: { inlineCompletion: { dynamicRegistration: false }, completion: {} },
  window: { workDoneProgress: true },
  workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
};

export async function startHarness(
  options: LspServerOptions,
  init: { capabilities?: ClientCapabilities; initializationOptions?: unknown; configuration?: unknown; rootUri?: string; workspaceFolders?: Array<{ uri: string; name: string }> } = {},
): Promise<Harness> {
  const up = new PassThrough();
  const down = new PassThrough();
  const serverConnection = createConnection(ProposedFeatures.all, new StreamMessageReader(up), new StreamMessageWriter(down));
  const server = attachLspServer(serverConnection, options);
  serverConnection.listen();
  const client = createProtocolConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const notifications: Harness['notifications'] = [];
  const requests: Harness['requests'] = [];
  const waiters: Array<() => void> = [];
  const harness = { configuration: init.configuration ?? null } as Harness;
  client.onNotification((method: string, params: unknown) => {
    notifications.push({ method, params });
    for (const w of [...waiters]) w();
  });
  client.onRequest((method: string, params: unknown) => {
    requests.push({ method, params });
    for (const w of [...waiters]) w();
    if (method === 'workspace/configuration') return [harness.configuration];
    if (method === 'window/workDoneProgress/create') {
      const token = (params as { token: string | number }).token;
      // $/progress is routed by token inside vscode-jsonrpc, so record it per created token.
      client.onProgress(WorkDoneProgress.type, token, (value) => {
        notifications.push({ method: '$/progress', params: { token, value } });
        for (const w of [...waiters]) w();
      });
    }
    return null;
  });
  client.listen();
  const initializeResult = (await client.sendRequest('initialize', {
    processId: null,
    rootUri: init.rootUri ?? null,
    ...(init.workspaceFolders ? { workspaceFolders: init.workspaceFolders } : {}),
    capabilities: init.capabilities ?? INLINE_CAPABILITIES,
    initializationOptions: init.initializationOptions,
  })) as InitializeResult;
  client.sendNotification('initialized', {});
  let version = 0;
  return Object.assign(harness, {
    client,
    server,
    notifications,
    requests,
    initializeResult,
    waitFor(method: string, predicate: (params: any) => boolean = () => true, timeoutMs = 3000): Promise<any> {
      return new Promise((resolve, reject) => {
        const all = () => [...notifications, ...requests];
        const check = (): boolean => {
          const hit = all().find((n) => n.method === method && predicate(n.params));
          if (hit !== undefined) {
            resolve(hit.params);
            return true;
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`timed out waiting for ${method}; saw ${all().map((n) => n.method).join(', ')}`));
        }, timeoutMs);
        const waiter = (): void => {
          if (check()) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(waiter), 1);
          }
        };
        waiters.push(waiter);
      });
    },
    request<R>(method: string, params: unknown, cancel?: CancellationTokenSource): Promise<R> {
      return (cancel === undefined ? client.sendRequest(method, params) : client.sendRequest(method, params, cancel.token)) as Promise<R>;
    },
    open(uri: string, text: string, languageId = 'typescript', v?: number): void {
      client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: v ?? ++version, text } });
    },
    async close(): Promise<void> {
      await client.sendRequest('shutdown');
      client.dispose();
      serverConnection.dispose();
    },
  });
}
