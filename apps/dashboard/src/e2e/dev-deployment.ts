/**
 * A throwaway Wrenn deployment for working on the dashboard: real control plane, PostgreSQL,
 * Redis and a host agent with QEMU microVMs (the test kit's), plus `vite preview` of the current
 * build proxying /v1 to it. Prints the URLs and tokens; Ctrl-C tears everything down.
 *
 *   flock /tmp/wrenn-vm.lock npx tsx apps/dashboard/src/e2e/dev-deployment.ts
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startTestDeployment } from "@wrenn/testing/deployment";

const appDir = fileURLToPath(new URL("../..", import.meta.url));
const d = await startTestDeployment();
const port = process.env.PREVIEW_PORT ?? "4173";
const preview = spawn("npx", ["vite", "preview", "--port", port, "--strictPort", "--host", "127.0.0.1"], {
  cwd: appDir,
  env: { ...process.env, WRENN_API: d.url },
  stdio: "inherit",
});
process.stdout.write(
  `${JSON.stringify({ api: d.url, dashboard: `http://127.0.0.1:${port}`, token: d.token, adminToken: d.adminToken, apiKey: d.apiKey })}\n`,
);
let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  preview.kill("SIGTERM");
  await d.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
