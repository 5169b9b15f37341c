// Starts the LSP server on a transport: stdio, a socket port, or a named pipe (as vscode-languageserver offers them).

import {
  IPCMessageReader,
  IPCMessageWriter,
  ProposedFeatures,
  createConnection,
  createServerPipeTransport,
  createServerSocketTransport,
  type Connection,
} from 'vscode-languageserver/node';
import { attachLspServer, type LspServer, type LspServerOptions } from './server.js';

/**
 * `socket`: the client listens on `port` and the server connects to it (vscode-languageclient's
 * TransportKind.socket); `pipe`: likewise for a named pipe / Unix socket path; `node-ipc`: Node's
 * IPC channel to a parent that forked this process (TransportKind.ipc).
 */
export type LspTransport = { kind: 'stdio' } | { kind: 'node-ipc' } | { kind: 'socket'; port: number } | { kind: 'pipe'; name: string };

/** On stdio, stdout carries the protocol: route console output to stderr so nothing corrupts it. */
function protectStdout(): void {
  const toStderr = (...args: unknown[]): void => {
    process.stderr.write(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ') + '\n');
  };
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}

export function createLspConnection(transport: LspTransport): Connection {
  switch (transport.kind) {
    case 'stdio':
      protectStdout();
      return createConnection(ProposedFeatures.all, process.stdin, process.stdout);
    case 'node-ipc':
      return createConnection(ProposedFeatures.all, new IPCMessageReader(process), new IPCMessageWriter(process));
    case 'socket': {
      const [reader, writer] = createServerSocketTransport(transport.port);
      return createConnection(ProposedFeatures.all, reader, writer);
    }
    case 'pipe': {
      const [reader, writer] = createServerPipeTransport(transport.name);
      return createConnection(ProposedFeatures.all, reader, writer);
    }
  }
}

/** Creates the connection, binds the server and starts listening. The process exits on `exit` or when stdin closes. */
export function runLspServer(transport: LspTransport, options: LspServerOptions): LspServer {
  const connection = createLspConnection(transport);
  const server = attachLspServer(connection, options);
  connection.listen();
  return server;
}
