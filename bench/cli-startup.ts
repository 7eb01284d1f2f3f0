/**
 * CLI and SDK start-up: what a user waits for beyond the REST call itself. Runs, in one go and
 * interleaved (so machine load hits both alike), the built path users get (`scripts/wrenn`,
 * the esbuild bundles) and the previous path (`node --import tsx apps/cli/src/main.ts`):
 *   - `wrenn --help`
 *   - `wrenn sandbox list` against a real control plane (its own process, real PostgreSQL and
 *     Redis), next to the REST call it makes (`GET /v1/sandboxes`, on a kept-alive connection: a
 *     lower bound, so the CLI overhead shown is an upper bound)
 *   - importing the SDK: its ESM build (what `npm publish` ships) vs its sources through tsx
 *   - bare `node -e 0`, the floor of any Node command
 *
 *   node --import tsx bench/cli-startup.ts [--runs 20]
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { ensureBuilt } from "../scripts/build.mjs";
import { pct, startBenchControlPlane } from "./control-plane-common.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "20" } } });
const runs = Number(values.runs);
const repo = fileURLToPath(new URL("..", import.meta.url));

const median = (xs: number[]) =>
  pct(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** Wall time of one process run, ms; fails loudly when it does not exit as expected. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, expectCode = 0): number {
  const started = performance.now();
  const r = spawnSync(cmd, args, { cwd: repo, env, encoding: "utf8" });
  const took = performance.now() - started;
  if (r.status !== expectCode) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return took;
}

const sdkDir = await mkdtemp(join(tmpdir(), "wrenn-bench-sdk-"));
await ensureBuilt(["cli", "host-agent", "control-plane"]);
// The SDK's ESM build as packages/sdk/build.mjs makes it (types are irrelevant to import time):
// split, so its envd part (Connect, generated protobuf) is a chunk loaded on the first envd call.
// Built inside the package, so its dependencies resolve from the repository's node_modules.
const sdkOut = join(repo, "packages/sdk/.bench-sdk");
await rm(sdkOut, { recursive: true, force: true });
await build({
  entryPoints: { index: join(repo, "packages/sdk/src/index.ts") },
  outdir: sdkOut,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  external: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"],
  logLevel: "warning",
});
const sdkEntry = join(sdkOut, "index.mjs");

const cp = await startBenchControlPlane({ entry: "built" });
const { base } = cp;

try {
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
    (await (
      await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, string>;
  const signup = await post("/v1/auth/signup", {
    name: "Bench",
    email: "b@example.com",
    password: "correct horse battery",
  });
  const key =
    (await post("/v1/api-keys", { name: "bench" }, { authorization: `Bearer ${signup.token}` })).key ?? "";
  const env = { ...process.env, WRENN_API_URL: base, WRENN_API_KEY: key, XDG_CONFIG_HOME: sdkDir };

  const rest = async (): Promise<number> => {
    const started = performance.now();
    // A kept-alive socket the server closed meanwhile (its 5 s idle timeout) fails once: retry.
    const res = await fetch(`${base}/v1/sandboxes`, { headers: { "x-api-key": key } }).catch(() =>
      fetch(`${base}/v1/sandboxes`, { headers: { "x-api-key": key } }),
    );
    await res.text();
    if (!res.ok) throw new Error(`GET /v1/sandboxes: ${res.status}`);
    return performance.now() - started;
  };
  const tsxCli = ["--import", "tsx", "apps/cli/src/main.ts"];
  const cases: Record<string, () => number | Promise<number>> = {
    "node -e 0 (floor)": () => timed(process.execPath, ["-e", "0"], env),
    "wrenn --help, built (scripts/wrenn)": () => timed("bash", ["scripts/wrenn", "--help"], env),
    "wrenn --help, tsx": () => timed(process.execPath, [...tsxCli, "--help"], env),
    "GET /v1/sandboxes (REST)": rest,
    "wrenn sandbox list, built (scripts/wrenn)": () =>
      timed("bash", ["scripts/wrenn", "sandbox", "list"], env),
    "wrenn sandbox list, tsx": () => timed(process.execPath, [...tsxCli, "sandbox", "list"], env),
    "import SDK, built (ESM bundle)": () =>
      timed(process.execPath, ["-e", `import(${JSON.stringify(sdkEntry)})`], env),
    "import SDK, tsx (sources)": () =>
      timed(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", "await import('@wrenn/sdk')"],
        env,
      ),
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const c of Object.values(cases)) await c(); // warm the page cache once
  for (let i = 0; i < runs; i++) {
    for (const [name, c] of Object.entries(cases)) samples[name]?.push(await c());
  }
  console.log(
    `${runs} runs each, interleaved; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  for (const [name, xs] of Object.entries(samples)) {
    const sorted = [...xs].sort((a, b) => a - b);
    console.log(
      `${name.padEnd(44)} median ${pct(sorted, 50).toFixed(0).padStart(5)} ms   p95 ${pct(sorted, 95).toFixed(0).padStart(5)} ms`,
    );
  }
  const m = (k: string) => median(samples[k] ?? []);
  const restMs = m("GET /v1/sandboxes (REST)");
  console.log(
    [
      `sandbox list over REST: built ${(m("wrenn sandbox list, built (scripts/wrenn)") - restMs).toFixed(0)} ms, tsx ${(m("wrenn sandbox list, tsx") - restMs).toFixed(0)} ms (target ≤ 150)`,
      `--help: built ${(m("wrenn --help, built (scripts/wrenn)")).toFixed(0)} ms vs tsx ${m("wrenn --help, tsx").toFixed(0)} ms (×${(m("wrenn --help, tsx") / m("wrenn --help, built (scripts/wrenn)")).toFixed(1)})`,
      `SDK import: built ${m("import SDK, built (ESM bundle)").toFixed(0)} ms vs tsx ${m("import SDK, tsx (sources)").toFixed(0)} ms; floor ${m("node -e 0 (floor)").toFixed(0)} ms`,
    ].join("\n"),
  );
} finally {
  await cp.stop();
  await rm(sdkOut, { recursive: true, force: true });
  await rm(sdkDir, { recursive: true, force: true });
}
