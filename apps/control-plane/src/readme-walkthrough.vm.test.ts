import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The root README's curl walk-through, read from README.md itself and run line by line with
// the real curl against a live deployment (control plane, host agent, QEMU microVMs), so the
// README cannot drift from the API. Only the placeholders are filled in: the port, the JWT,
// the API key and the sandbox id each earlier line printed.
const README = fileURLToPath(new URL("../../../README.md", import.meta.url));
const run = promisify(execFile);
let d: TestDeployment;
let cwd = "";

/** The shell lines of the block after "Try the API once `up` is running", comments dropped. */
function walkthroughLines(readme: string): string[] {
  const after = readme.split("Try the API once `up` is running")[1] ?? "";
  const block = /```sh\n([\s\S]*?)```/.exec(after)?.[1] ?? "";
  return block
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((line) => line.replace(/\s{2,}# .*$/, "").trim())
    .filter((line) => line && !line.startsWith("#"));
}

beforeAll(async () => {
  d = await startTestDeployment({ env: { WRENN_PROXY_DOMAIN: "localhost" } });
  cwd = await mkdtemp(join(tmpdir(), "wrenn-readme-"));
  await writeFile(join(cwd, "a.py"), 'print("hello from the README")\n');
});

afterAll(async () => {
  await d?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe("README.md's curl walk-through", () => {
  it("runs as written against a live deployment", { timeout: 600_000 }, async () => {
    const lines = walkthroughLines(await readFile(README, "utf8"));
    expect(lines.length).toBeGreaterThan(10);
    const port = new URL(d.url).port;
    const known: { jwt?: string; key?: string; id?: string } = {};
    let shellVars = "";
    const outputs: string[] = [];
    for (const line of lines) {
      const fill = (placeholder: string, value: string | undefined) => {
        if (!line.includes(placeholder)) return (s: string) => s;
        expect(value, `${placeholder} is used before an earlier line printed it: ${line}`).toBeDefined();
        return (s: string) => s.replaceAll(placeholder, value ?? "");
      };
      const command = [
        fill("<JWT>", known.jwt),
        fill("wrn_...", known.key),
        fill("sb-…", known.id),
        (s: string) => s.replaceAll("localhost:8080", `localhost:${port}`),
      ].reduce((s, f) => f(s), line);
      if (/^\w+=/.test(command)) {
        shellVars += `${command}\n`; // K=…; J=…: kept for the lines after
        continue;
      }
      const isProxy = command.includes(`8000-${known.id}.localhost`);
      // The web server started by the line before may need a moment to listen.
      let out = "";
      for (let attempt = 0; ; attempt++) {
        try {
          // Asynchronously: the control plane answering curl runs in this very process.
          out = (
            await run("bash", ["-c", `${shellVars}${command}`], { cwd, encoding: "utf8", timeout: 120_000 })
          ).stdout;
        } catch (err) {
          throw new Error(`README line failed or hung: ${command}\n${(err as Error).message}`);
        }
        if (!isProxy || out.includes("a.py") || attempt >= 30) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      outputs.push(out);
      if (isProxy) {
        expect(out, command).toContain("a.py"); // python's directory listing of /home/user
        continue;
      }
      if (command.includes("-XDELETE")) {
        expect(out, command).toBe("");
        continue;
      }
      // Errors are JSON {code, message}; files/read answers the file's raw bytes.
      if (command.includes("/files/read")) {
        expect(out, command).toBe('print("hello from the README")\n');
        continue;
      }
      const body = JSON.parse(out) as Record<string, unknown>;
      expect(body.code, `${command}\n→ ${out}`).toBeUndefined();
      known.jwt ??= typeof body.token === "string" ? body.token : undefined;
      if (typeof body.key === "string") known.key ??= body.key;
      if (typeof body.id === "string" && body.id.startsWith("sb-")) known.id ??= body.id;
    }
    const text = outputs.join("\n");
    expect(text).toContain('"stdout":"hi\\n');
    // Created from the snapshot, then the first sandbox destroyed: the second one still runs.
    const list = await fetch(`${d.url}/v1/sandboxes`, { headers: { "x-api-key": known.key ?? "" } });
    const { sandboxes } = (await list.json()) as {
      sandboxes: { id: string; state: string; template: string }[];
    };
    expect(sandboxes.map((s) => [s.template, s.state])).toEqual([["my-env", "running"]]);
  });
});
