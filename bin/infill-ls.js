#!/usr/bin/env node
// The infill-ls command: runs the compiled server (server/dist/main.js), or explains how to build it.

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../server/dist/main.js', import.meta.url);
if (!fs.existsSync(entry)) {
  process.stderr.write(`infill-ls: ${fileURLToPath(entry)} is missing: run "npm run build" first (in ${fileURLToPath(new URL('..', import.meta.url))})\n`);
  process.exit(1);
}
const { main, exitWhenFlushed } = await import(entry.href);
try {
  const code = await main(process.argv.slice(2));
  // A finished command exits now instead of waiting for native teardown (see exitWhenFlushed in main.ts).
  if (code !== 'running') exitWhenFlushed(code);
} catch (err) {
  process.stderr.write(`infill-ls: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitWhenFlushed(1);
}
