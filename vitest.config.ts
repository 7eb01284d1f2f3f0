import { defineConfig } from "vitest/config";

/** Test files that boot microVMs: run one file at a time in the `vm` project. */
export const vmTestGlobs = ["**/*.vm.test.ts"];

const roots = [
  "apps/*/src/**/*.test.ts",
  "packages/*/src/**/*.test.ts",
  "images/**/*.test.ts",
  "scripts/**/*.test.ts",
  "deploy/**/*.test.ts",
];
const ignored = ["**/node_modules/**", "**/dist/**"];

/**
 * Two projects: `unit` (everything else, files in parallel) and `vm` (one file at a
 * time, generous timeouts: this machine runs guests under software emulation).
 */
export default defineConfig({
  test: {
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: roots,
          exclude: [...ignored, ...vmTestGlobs],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: "vm",
          include: vmTestGlobs,
          exclude: ignored,
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          maxWorkers: 1,
          // After the last VM file: no QEMU a test started may remain (killed, and the run fails).
          globalSetup: ["./packages/testing/src/vm-guard.ts"],
          // A failing test prints the warnings and errors the platform logged meanwhile.
          setupFiles: ["./packages/testing/src/vm-failure-logs.ts"],
        },
      },
    ],
  },
});
