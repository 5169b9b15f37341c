// Vitest configuration: builds server/dist once before the run (spawned-process tests need it); real-model tests run only when the default model exists.

import fs from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

/** test/e2e/real-model.test.ts needs models/default (trained by native/); see globalSetup's notice. */
const hasDefaultModel = fs.existsSync('models/default/config.json');

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(hasDefaultModel ? [] : ['test/e2e/real-model.test.ts'])],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
