import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts', 'test/registry-setup.ts'],
    // Tests talk to a real broker and start real processes: generous timeouts, bounded waits inside.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: files run one after another, so process-heavy tests do not starve each other.
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default'],
  },
});
