// Paths resolved from this module's own location (server/src/util or server/dist/util), never from the cwd.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root (the folder holding package.json). */
export const packageRoot: string = fileURLToPath(new URL('../../../', import.meta.url));

/** The shipped default model directory, `models/default` under the package root. */
export const defaultModelDir: string = path.join(packageRoot, 'models', 'default');
