// Vitest global setup: compiles server/src to server/dist (spawned-process tests run the built server) and says which suites are not run.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';

export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'pipe' });
  } catch (err) {
    const out = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`npm test builds server/dist first, and the build failed:\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`);
  }
  if (!fs.existsSync('models/default/config.json')) {
    process.stderr.write('NOTICE: test/e2e/real-model.test.ts not run: models/default/config.json does not exist yet (train and export it with native/).\n');
  }
}
