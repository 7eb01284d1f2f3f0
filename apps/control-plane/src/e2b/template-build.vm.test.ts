import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { type LogEntry, Sandbox, Template, waitForPort } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointE2bSdkAt } from "./e2b-sdk-env.ts";

// The official `e2b` SDK's Template.build() / buildInBackground() / getBuildStatus()
// against a real Wrenn deployment (control plane with its build workers, registered host
// agent, QEMU microVMs), configured only by E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY.
// Fails (never skips) without QEMU or the guest image.
let d: TestDeployment;
let contextDir: string;
let restoreE2bEnv: (() => void) | undefined;
const BUILD_MS = 600_000;

beforeAll(async () => {
  d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
  restoreE2bEnv = pointE2bSdkAt(d);
  contextDir = mkdtempSync(join(tmpdir(), "e2b-template-"));
  mkdirSync(join(contextDir, "app"));
  writeFileSync(join(contextDir, "app", "hello.txt"), "hello from the build context\n");
  writeFileSync(join(contextDir, "app", "index.html"), "served by the start command\n");
}, 120_000);

afterAll(async () => {
  restoreE2bEnv?.();
  if (contextDir) rmSync(contextDir, { recursive: true, force: true });
  await d?.close();
});

/** The template of the test: every step kind the SDK has, and a start command with a ready check. */
function appTemplate() {
  return Template({ fileContextPath: contextDir })
    .fromBaseImage()
    .setEnvs({ GREETING: "hello from e2b" })
    .runCmd("echo build-marker-$GREETING")
    .runCmd("touch /etc/built-as-root", { user: "root" })
    .setUser("builder")
    .setWorkdir("/srv/app")
    .copy("app", "/srv/app/")
    .runCmd("whoami > built-by.txt")
    .setStartCmd("python3 -m http.server 8123 --directory /srv/app", waitForPort(8123));
}

describe("the e2b SDK's Template.build against Wrenn", () => {
  it(
    "builds a template whose sandboxes see the steps and run the start command at once",
    async () => {
      const logs: LogEntry[] = [];
      const built = await Template.build(appTemplate(), "e2b-sdk-app", {
        onBuildLogs: (entry) => logs.push(entry),
      });
      expect(built).toMatchObject({ templateId: "e2b-sdk-app", name: "e2b-sdk-app" });
      const text = logs.map((l) => l.message).join("\n");
      expect(text).toMatch(/Uploaded 'app'/);
      expect(text).toMatch(/build-marker-hello from e2b/);

      const sbx = await Sandbox.create("e2b-sdk-app", { timeoutMs: 120_000 });
      try {
        const run = (cmd: string) => sbx.commands.run(cmd, { timeoutMs: 60_000 });
        expect((await run("whoami && pwd")).stdout).toBe("builder\n/srv/app\n");
        expect((await run("echo $GREETING")).stdout).toBe("hello from e2b\n");
        expect((await run("stat -c %U /etc/built-as-root")).stdout).toBe("root\n");
        expect((await run("cat hello.txt built-by.txt && stat -c %U hello.txt")).stdout).toBe(
          "hello from the build context\nbuilder\nbuilder\n",
        );
        // The start command's server was captured running: it answers at once.
        const served = await run(
          "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:8123/index.html').read().decode().strip())\"",
        );
        expect(served.stdout).toBe("served by the start command\n");
      } finally {
        await sbx.kill();
      }
    },
    BUILD_MS,
  );

  it(
    "buildInBackground + getBuildStatus report a build to the end (cached files and layers)",
    async () => {
      const data = await Template.buildInBackground(appTemplate(), "e2b-sdk-app-2");
      const deadline = Date.now() + BUILD_MS;
      let status = await Template.getBuildStatus(data);
      const messages: string[] = status.logEntries.map((l) => l.message);
      while (status.status === "building" || status.status === "waiting") {
        if (Date.now() > deadline) throw new Error(`build stuck: ${JSON.stringify(status)}`);
        await new Promise((r) => setTimeout(r, 500));
        status = await Template.getBuildStatus(data, { logsOffset: messages.length });
        messages.push(...status.logEntries.map((l) => l.message));
      }
      expect(status.status, messages.join("\n")).toBe("ready");
      expect(messages.join("\n")).toMatch(/reused from the layer cache/);
      expect(await Template.exists("e2b-sdk-app-2")).toBe(true);
    },
    BUILD_MS,
  );
});
