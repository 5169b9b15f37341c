// A local HTTP stand-in for a remote completion server that answers every request with one fixed body, for the
// backend tests' malformed-answer cases (test/backend/*.test.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Starts a server on 127.0.0.1 (a free port) that answers every request with `body` as is (`type`: its content type);
 * /props answers 404. The server is pushed onto `servers`, which the caller closes after each test.
 * Returns its base URL, e.g. `http://127.0.0.1:40123`.
 */
export async function rawServer(servers: http.Server[], type: string, body: string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/props') {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
