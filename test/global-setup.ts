// Vitest global setup: compiles server/src to server/dist (spawned-process tests run the built server).

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

export default function setup(): void {
  process.stderr.write('== vitest global setup: building server/dist (tsc, incremental: about 5-30 s)\n');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'pipe' });
  } catch (err) {
    const out = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`npm test builds server/dist first, and the build failed:\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`);
  }
}
