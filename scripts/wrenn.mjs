// @ts-check
// `scripts/wrenn`'s Node half: makes sure the bundles it is about to run match their sources
// (a stat per input when nothing changed; a rebuild otherwise, see build.mjs), then runs the
// built CLI in this same process, so a command pays one Node start-up and no TypeScript.
import { pathToFileURL } from "node:url";
import { CLI_TARGETS, ensureBuilt } from "./build.mjs";

const cliBundle = new URL("../apps/cli/dist/wrenn.mjs", import.meta.url);
try {
  await ensureBuilt(CLI_TARGETS);
} catch (err) {
  console.error(`wrenn: building the CLI failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
if (process.argv[2] === "up" && !process.argv.includes("--help")) {
  // `up` serves the dashboard: build it when stale. A failed build costs the dashboard only
  // (the control plane never serves a build that does not match its sources), not the API.
  await ensureBuilt(["dashboard"]).catch((err) =>
    console.error(
      `wrenn up: the dashboard build failed (${err instanceof Error ? err.message : String(err)}); serving the API only`,
    ),
  );
}
// The CLI reads process.argv[2…] as its arguments, as when started as `node wrenn.mjs …`.
process.argv.splice(1, 1, cliBundle.pathname);
await import(pathToFileURL(cliBundle.pathname).href);
