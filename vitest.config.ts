// Vitest configuration: builds server/dist once before the run (spawned-process tests need it).

import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
