// Starts the LSP server on a transport: stdio, a socket port, or a named pipe (as vscode-languageserver offers them).

import {
  IPCMessageReader,
  IPCMessageWriter,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  createConnection,
  createServerPipeTransport,
  createServerSocketTransport,
  type Connection,
  type MessageReader,
  type MessageWriter,
} from 'vscode-languageserver/node';
import { guardReader } from './framing.js';
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

/** A broken LSP header leaves the stream out of step for good: say so on stderr and exit, so the editor restarts us. */
function exitOnFramingError(error: Error): void {
  process.stderr.write(`infill-ls: unrecoverable LSP framing error, exiting so the client can restart the server: ${error.message.split('\n')[0]}\n`);
  process.exit(1);
}

function rawTransport(transport: LspTransport): [MessageReader, MessageWriter] {
  switch (transport.kind) {
    case 'stdio':
      return [new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout)];
    case 'node-ipc':
      return [new IPCMessageReader(process), new IPCMessageWriter(process)];
    case 'socket':
      return createServerSocketTransport(transport.port);
    case 'pipe':
      return createServerPipeTransport(transport.name);
  }
}

/**
 * The connection over a transport, its reader guarded by lsp/framing.ts (JSON-RPC errors for invalid messages,
 * -32002 before initialize, exit on a broken header). On stdio the process exits when stdin ends: 0 after
 * `shutdown`, else 1 (what vscode-languageserver does for streams it is given directly).
 */
export function createLspConnection(transport: LspTransport): Connection {
  if (transport.kind === 'stdio') protectStdout();
  const [reader, writer] = rawTransport(transport);
  const guarded = guardReader(reader, writer, exitOnFramingError);
  if (transport.kind === 'stdio') {
    const onEnd = (): void => process.exit(guarded.state.shutdown === true ? 0 : 1);
    process.stdin.on('end', onEnd);
    process.stdin.on('close', onEnd);
  }
  return createConnection(ProposedFeatures.all, guarded, writer);
}

/** Creates the connection, binds the server and starts listening. The process exits on `exit` or when stdin closes. */
export function runLspServer(transport: LspTransport, options: LspServerOptions): LspServer {
  const connection = createLspConnection(transport);
  const server = attachLspServer(connection, options);
  connection.listen();
  return server;
}
