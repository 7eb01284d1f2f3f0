import { execFile } from "node:child_process";
import { randomInt, X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2bFormOfApiKey } from "../auth/api-keys.ts";

// E2B's domain mode end to end: a deployment whose HTTPS listener serves a wildcard certificate
// for *.{domain} issued by Wrenn's internal CA, on port 443 of a loopback address of its own, and
// the official `e2b` SDK in a separate Node process configured only by E2B_DOMAIN and E2B_API_KEY
// (no E2B_API_URL, no E2B_SANDBOX_URL), trusting the CA with NODE_EXTRA_CA_CERTS. The client's
// resolver maps *.{domain} to that address (domain-mode-client.ts); everything else is real.
const DOMAIN = "sandboxes.wrenn.test";
// A loopback address of this test's own, so port 443 is free whatever else listens on 127.0.0.1.
const ADDRESS = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(1, 255)}`;
const CLIENT = fileURLToPath(new URL("./domain-mode-client.ts", import.meta.url));

let d: TestDeployment;
let dir: string;

beforeAll(async () => {
  d = await startTestDeployment({
    agentArgs: ["--network", "netns"],
    tls: true,
    env: {
      WRENN_PROXY_DOMAIN: DOMAIN,
      WRENN_TLS_PORT: "443",
      WRENN_TLS_HOST: ADDRESS,
      WRENN_TLS_INTERNAL_CA: "true",
    },
  });
  dir = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), "wrenn-domain-mode-"));
}, 120_000);

afterAll(async () => {
  await d?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the client program with only the variables a user would set (plus the test resolver's). */
function runClient(caFile: string): Promise<Record<string, unknown>> {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/root",
    NODE_EXTRA_CA_CERTS: caFile,
    E2B_DOMAIN: DOMAIN,
    E2B_API_KEY: e2bFormOfApiKey(d.apiKey),
    WRENN_TEST_DOMAIN: DOMAIN,
    WRENN_TEST_ADDRESS: ADDRESS,
  };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", CLIENT],
      { env, cwd: fileURLToPath(new URL("../../../..", import.meta.url)), timeout: 170_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`the e2b client failed: ${err.message}\n${stderr}\n${stdout}`));
        const last = stdout.trim().split("\n").at(-1) ?? "";
        try {
          resolve(JSON.parse(last) as Record<string, unknown>);
        } catch {
          reject(new Error(`the e2b client printed no result:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe("E2B domain mode (E2B_DOMAIN, HTTPS with the internal CA's wildcard certificate)", () => {
  it("serves *.{domain} and the domain itself with a certificate from the deployment's CA", () => {
    const served = new X509Certificate(d.controlPlane.tlsCertPem?.() ?? "");
    expect(served.subjectAltName).toBe(`DNS:${DOMAIN}, DNS:*.${DOMAIN}`);
    expect(served.checkIssued(new X509Certificate(d.ca?.certPem ?? ""))).toBe(true);
    expect(d.controlPlane.tlsUrl).toBe(`https://${ADDRESS}:443`);
  });

  it("runs the e2b SDK with E2B_DOMAIN alone: API, envd, signed file URLs and a port URL", async () => {
    const caFile = join(dir, "ca.pem");
    await writeFile(caFile, d.ca?.certPem ?? "");
    const seen = await runClient(caFile);
    const id = seen.sandboxId as string;
    expect(id).toMatch(/^sb-[0-9a-f-]{36}$/);
    expect(seen).toMatchObject({
      envdHost: `49983-${id}.${DOMAIN}`,
      listed: [id],
      stdout: "over-https\n",
      read: "written over https\n",
      uploadStatus: 200,
      uploaded: "uploaded by url\n",
      download: { status: 200, body: "written over https\n" },
      port: { status: 200, body: "written over https\n" },
      portWithoutToken: 401,
      killed: true,
    });
    // Signed URLs name the sandbox's own host under the domain; a forged signature is refused by envd.
    expect(new URL(seen.uploadUrl as string).host).toBe(`49983-${id}.${DOMAIN}`);
    expect(new URL(seen.portUrl as string).host).toBe(`8000-${id}.${DOMAIN}`);
    expect([401, 403]).toContain(seen.forgedStatus);
    expect([200, 204]).toContain((seen.health as { status: number }).status);
  }, 200_000);
});
