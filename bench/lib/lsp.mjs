// One infill-ls LSP server over stdio for the benchmarks (bench/cancel, bench/replay/reuse, bench/memory): spawned,
// initialized like an editor that supports inline completion, and waited for until its model has loaded.
import { spawn } from 'node:child_process';
import path from 'node:path';
import rpc from 'vscode-jsonrpc/node';

const { createMessageConnection, StreamMessageReader, StreamMessageWriter } = rpc;

/**
 * Spawns `<serverRoot>/bin/infill-ls.js serve --stdio --device cpu` (cwd serverRoot, environment `env`, default this
 * process's), sends `initialize` with `initializationOptions`, then `initialized`, and resolves once
 * `infill-ls/status` leaves `loading`: { child, conn, status }. Server requests are answered null and other
 * notifications ignored. `onStderr(text)` receives the server's stderr, which is otherwise drained. Rejects, after
 * killing the child, when the status is not `ready` (`name` prefixes the message).
 */
export async function startLspServer({ serverRoot, env = process.env, initializationOptions = {}, onStderr, name = 'lsp' }) {
  const child = spawn(process.execPath, [path.join(serverRoot, 'bin/infill-ls.js'), 'serve', '--stdio', '--device', 'cpu'], { cwd: serverRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (onStderr) child.stderr.on('data', (d) => onStderr(d.toString()));
  else child.stderr.resume();
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  let ready;
  const readyP = new Promise((r) => (ready = r));
  conn.onNotification('infill-ls/status', (s) => {
    if (s.state !== 'loading') ready(s);
  });
  conn.onRequest(() => null);
  conn.onNotification(() => {});
  conn.listen();
  await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: { textDocument: { inlineCompletion: {} } }, initializationOptions });
  conn.sendNotification('initialized', {});
  const status = await readyP;
  if (status.state !== 'ready') {
    conn.dispose();
    child.kill('SIGKILL');
    throw new Error(`${name}: ${JSON.stringify(status)}`);
  }
  return { child, conn, status };
}
