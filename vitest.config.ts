import { defineConfig } from "vitest/config";

/**
 * One vitest run covers every workspace. VM tests are slow under software
 * emulation, so timeouts are generous and files run with limited parallelism
 * (this machine has two cores).
 */
export default defineConfig({
  test: {
    include: [
      "apps/*/src/**/*.test.ts",
      "packages/*/src/**/*.test.ts",
      "images/**/*.test.ts",
      "e2e/**/*.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
  },
});
