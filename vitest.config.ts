// Vitest configuration: builds server/dist once before the run (spawned-process tests need it).

import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    // onnxruntime's telemetry off in every test process and the servers they spawn (the server sets it too;
    // test/security/telemetry.test.ts removes it on purpose to check that).
    env: { ORT_DISABLE_TELEMETRY: '1' },
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
