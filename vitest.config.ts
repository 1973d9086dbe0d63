import { defineConfig } from 'vitest/config';

// Unit tests run in threads-free processes; integration and e2e tests load real ONNX models, so
// they get long timeouts and run one file at a time (this machine has 2 cores).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
