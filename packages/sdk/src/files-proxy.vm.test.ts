import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedFileUrl } from "./envd/file-urls.ts";
import { EnvdConnection } from "./envd/transport.ts";
import { Files, type FilesystemEvent } from "./files.ts";
import { Sandbox } from "./index.ts";

// File streams and signed file URLs against a whole deployment (control plane, host agent with
// netns networking, a QEMU microVM): directory watches started and stopped over and over, through
// the port proxy and straight to envd, and header-less signed /files URLs through the proxy's
// `49983-{sandboxId}.{domain}` host names.
const DOMAIN = "sbx.wrenn.test";
const HOME = "/home/user";
const WATCH_CYCLES = 25;
let d: TestDeployment;
let sandbox: Sandbox;

beforeAll(async () => {
  d = await startTestDeployment({ env: { WRENN_PROXY_DOMAIN: DOMAIN }, agentArgs: ["--network", "netns"] });
  sandbox = await Sandbox.create({
    apiKey: d.apiKey,
    apiUrl: d.url,
    domain: DOMAIN,
    template: "minimal",
    timeoutMs: 0,
    vcpus: 1,
    memoryMb: 512,
  });
});

afterAll(async () => {
  await d?.close();
});

/**
 * A request to `url` exactly as a browser would send it once `*.sbx.wrenn.test` resolves to the
 * control plane: only Host (from the URL) and, for a body, its Content-Type. No credential.
 */
function plain(url: string, init: { method?: string; body?: Uint8Array; contentType?: string } = {}) {
  const target = new URL(url);
  const cp = new URL(d.url);
  return new Promise<{ status: number; body: string; contentType: string }>((resolve, reject) => {
    const headers: Record<string, string> = { host: target.host };
    if (init.contentType) headers["content-type"] = init.contentType;
    const req = httpRequest(
      {
        host: cp.hostname,
        port: cp.port,
        method: init.method ?? "GET",
        path: target.pathname + target.search,
        headers,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            contentType: String(res.headers["content-type"] ?? ""),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** A multipart body (what a browser's FormData upload sends). */
async function multipart(name: string, content: string) {
  const form = new FormData();
  form.append("file", new Blob([content]), name);
  const req = new Request("http://form.invalid/", { method: "POST", body: form });
  return {
    body: new Uint8Array(await req.arrayBuffer()),
    contentType: req.headers.get("content-type") ?? "",
  };
}

/** Starts and stops `cycles` watches; each must see the file written while it runs and end on stop(). */
async function watchCycles(files: Files, dir: string, cycles: number) {
  await files.makeDir(dir);
  const problems: string[] = [];
  for (let i = 0; i < cycles; i++) {
    const events: FilesystemEvent[] = [];
    let exited = false;
    const watch = await files.watchDir(dir, (e) => void events.push(e), {
      onExit: (err) => {
        if (err) problems.push(`cycle ${i}: the watch failed: ${err.message}`);
        exited = true;
      },
    });
    const name = `cycle-${i}.txt`;
    await files.write(`${dir}/${name}`, String(i));
    const end = Date.now() + 20_000;
    while (!events.some((e) => e.name === name && e.type === "create") && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!events.some((e) => e.name === name && e.type === "create")) {
      problems.push(`cycle ${i}: no create event for ${name} (got ${JSON.stringify(events)})`);
    }
    await watch.stop();
    if (!exited) problems.push(`cycle ${i}: the stream was still open after stop()`);
  }
  return problems;
}

describe("watchDir start/stop cycles", () => {
  it(`${WATCH_CYCLES} cycles through the port proxy each see their write and end on stop()`, async () => {
    expect(await watchCycles(sandbox.files, `${HOME}/cycles-proxy`, WATCH_CYCLES)).toEqual([]);
  });

  it(`${WATCH_CYCLES} cycles straight to envd (no proxy) do the same`, async () => {
    const guestHost = d.agent.manager.get(sandbox.sandboxId).guestHost;
    expect(guestHost).toBeTruthy();
    const direct = new Files(
      new EnvdConnection({
        apiUrl: `http://${guestHost}:49983`,
        sandboxId: sandbox.sandboxId,
        accessToken: sandbox.envdAccessToken,
      }),
    );
    expect(await watchCycles(direct, `${HOME}/cycles-direct`, WATCH_CYCLES)).toEqual([]);
  });
});

describe("signed file URLs through the port proxy", () => {
  it("a signed download works with no header; so does a signed upload (multipart and raw)", async () => {
    await sandbox.files.write(`${HOME}/signed/report.txt`, "report body");
    const url = await sandbox.files.downloadUrl(`${HOME}/signed/report.txt`, { useSignatureExpiration: 600 });
    expect(new URL(url).host).toBe(`49983-${sandbox.sandboxId}.${DOMAIN}`);
    expect(await plain(url)).toMatchObject({ status: 200, body: "report body" });

    const up = await sandbox.files.uploadUrl(`${HOME}/signed/uploaded.txt`, { useSignatureExpiration: 600 });
    const form = await multipart("ignored-name.txt", "via a form");
    const written = await plain(up, { method: "POST", ...form });
    expect(written.status, written.body).toBe(200);
    expect(JSON.parse(written.body)).toEqual([
      expect.objectContaining({ path: `${HOME}/signed/uploaded.txt`, name: "uploaded.txt" }),
    ]);
    expect(await sandbox.files.read(`${HOME}/signed/uploaded.txt`)).toBe("via a form");
    // The upload is owned by the user the URL names (envd's default user here).
    expect((await sandbox.files.getInfo(`${HOME}/signed/uploaded.txt`)).owner).toBe("user");

    const rootUp = await sandbox.files.uploadUrl("/root/raw.bin", { user: "root" });
    const raw = await plain(rootUp, {
      method: "POST",
      body: new TextEncoder().encode("raw bytes"),
      contentType: "application/octet-stream",
    });
    expect(raw.status, raw.body).toBe(200);
    expect(await sandbox.files.read("/root/raw.bin", { user: "root" })).toBe("raw bytes");
  });

  it("envd refuses a tampered, expired, or wrong-operation signature (401)", async () => {
    const path = `${HOME}/signed/report.txt`;
    const good = new URL(await sandbox.files.downloadUrl(path));
    const tampered = new URL(good);
    const sig = tampered.searchParams.get("signature") ?? "";
    tampered.searchParams.set("signature", `${sig.slice(0, -1)}${sig.endsWith("A") ? "B" : "A"}`);
    const otherPath = new URL(good);
    otherPath.searchParams.set("path", "/etc/shadow");
    const target = { protocol: "http:", envdHost: good.host, accessToken: sandbox.envdAccessToken };
    const expired = await signedFileUrl(
      target,
      path,
      "read",
      { useSignatureExpiration: 60 },
      () => Date.now() - 3_600_000,
    );
    for (const [what, url, method] of [
      ["tampered", tampered.toString(), "GET"],
      ["another path", otherPath.toString(), "GET"],
      ["expired", expired, "GET"],
      ["a read signature used to write", good.toString(), "POST"],
    ] as const) {
      const res = await plain(url, method === "POST" ? { method, ...(await multipart("x", "x")) } : {});
      expect(res.status, `${what}: ${res.body}`).toBe(401);
      // The refusal is envd's (it holds the token), not the proxy's.
      expect(JSON.parse(res.body), what).toMatchObject({ code: 401 });
    }
    expect(await sandbox.files.read(path)).toBe("report body");
  });

  it("the proxy still refuses what is not a signed /files URL, and unknown sandboxes", async () => {
    const good = new URL(await sandbox.files.downloadUrl(`${HOME}/signed/report.txt`));
    const unsigned = new URL(good);
    unsigned.searchParams.delete("signature");
    const res = await plain(unsigned.toString());
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ code: "unauthenticated" });

    // A signature does not open other envd routes.
    const rpc = await plain(`http://${good.host}/filesystem.Filesystem/ListDir?signature=v1_x`, {
      method: "POST",
      body: new TextEncoder().encode(JSON.stringify({ path: "/" })),
      contentType: "application/json",
    });
    expect(rpc.status).toBe(401);

    const unknown = new URL(good);
    unknown.host = `49983-sb-${randomUUID()}.${DOMAIN}`;
    const missing = await plain(unknown.toString());
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ code: "not_found" });
  });
});
