import { fileURLToPath } from "node:url";

/**
 * The `node` arguments that start the host agent daemon, matching how this CLI itself runs:
 * from the bundles (`scripts/wrenn`, which rebuilds stale ones first) the agent's own bundle
 * `apps/host-agent/dist/main.mjs`, a sibling of this chunk's folder; from TypeScript sources
 * (tests, `node --import tsx`) its `src/main.ts` through tsx.
 */
export function agentNodeArgs(selfUrl: string = import.meta.url): string[] {
  if (selfUrl.endsWith(".ts")) {
    return ["--import", "tsx", fileURLToPath(import.meta.resolve("@wrenn/host-agent/main"))];
  }
  // Every chunk of the CLI bundle sits in apps/cli/dist/ (build.mjs keeps them flat).
  return ["--enable-source-maps", fileURLToPath(new URL("../../host-agent/dist/main.mjs", selfUrl))];
}
