import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect as http2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { apiFetch } from "@wrenn/testing/api";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentTls } from "../tls/agent-tls.ts";
import { CertificateAuthority } from "../tls/ca.ts";

// End to end with mTLS on: a real control plane with a throwaway CA, a registered host agent
// (netns networking for the port proxy) serving TLS with the certificate it got at
// registration, a QEMU microVM. Every control plane → agent hop below (create, exec, the
// port proxy) crosses the mTLS listener; clients without the CA's client certificate are refused.
let d: TestDeployment;
let sandboxId: string;
let agentAddress: string;

function api(method: string, path: string, body?: unknown) {
  return apiFetch(d, method, path, body);
}

async function exec(cmd: string, background = false) {
  const res = await api("POST", `/v1/sandboxes/${sandboxId}/exec`, { cmd, background });
  const out = (await res.json()) as { exit_code: number | null; stdout: string; stderr: string };
  expect(res.status, JSON.stringify(out)).toBe(200);
  return out;
}

/** An HTTP/1.1-over-TLS request straight to the agent: its status, or the error that ended it. */
function toAgent(tls: { ca?: string; cert?: string; key?: string }): Promise<number> {
  const port = Number(agentAddress.split(":")[1]);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", port, path: `/proxy/${sandboxId}/8000/`, agent: false, ...tls },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  d = await startTestDeployment({ tls: true, agentArgs: ["--network", "netns"] });
  const host = await fetch(`${d.url}/v1/hosts/${d.hostId}`, {
    headers: { authorization: `Bearer ${d.adminToken}` },
  });
  agentAddress = ((await host.json()) as { address: string }).address;
  const res = await api("POST", "/v1/sandboxes", { timeout_sec: 0 });
  const created = (await res.json()) as { id: string };
  expect(res.status, JSON.stringify(created)).toBe(201);
  sandboxId = created.id;
});

afterAll(async () => {
  if (sandboxId) await api("DELETE", `/v1/sandboxes/${sandboxId}`).catch(() => {});
  await d?.close();
});

describe("mTLS between the control plane and the host agent", () => {
  it("registered the agent with a certificate for its address and serves TLS with it", async () => {
    expect(d.ca).toBeDefined();
    expect(d.agent.server.tls).toBe(true);
    const saved = JSON.parse(await readFile(join(d.agentDataDir, "host-credentials.json"), "utf8"));
    const cert = new X509Certificate(saved.cert_pem);
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(saved.ca_cert_pem).toBe(d.ca?.certPem);
    const row = await d.database.pool.query("SELECT cert_fingerprint FROM hosts WHERE id = $1", [
      d.hostId.slice(5),
    ]);
    expect(row.rows[0].cert_fingerprint).toBe(cert.fingerprint256.replaceAll(":", "").toLowerCase());
  });

  it("creates, execs and port-proxies through the mTLS channel", async () => {
    const out = await exec("echo mtls-$((6*7))");
    expect(out).toMatchObject({ exit_code: 0, stdout: "mtls-42\n" });
    await exec("mkdir -p /tmp/www && echo hello-over-mtls > /tmp/www/index.html");
    await exec("cd /tmp/www && exec python3 -m http.server 8000", true);
    const deadline = Date.now() + 90_000;
    let last = "";
    while (Date.now() < deadline) {
      const res = await fetch(`${d.url}/index.html`, {
        headers: { "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": "8000", "x-api-key": d.apiKey },
      });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(last).toBe("200 hello-over-mtls\n");
  });

  it("refuses plain HTTP, no client certificate and another CA's certificate; accepts the CA's", async () => {
    if (!d.ca) throw new Error("deployment has no CA");
    // Plain h2c, as a control plane without a CA would speak, and plain HTTP/1.1: cut off.
    const plain = await new Promise<string>((resolve) => {
      const session = http2Connect(`http://${agentAddress}`);
      session.on("error", (err) => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
      session.on("close", () => resolve("closed"));
      const stream = session.request({
        ":path": "/hostagent.v1.HostAgentService/ListSandboxes",
        ":method": "POST",
      });
      stream.on("response", (h) => resolve(`status ${h[":status"]}`));
      stream.on("error", () => {});
      stream.end();
    });
    expect(plain).toMatch(/^(error|closed)/);
    const plainHttp1 = await new Promise<string>((resolve) => {
      const req = httpRequest(`http://${agentAddress}/proxy/${sandboxId}/8000/`, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on("error", (err) => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
      req.end();
    });
    expect(plainHttp1).toBe("error ECONNRESET");
    await expect(toAgent({ ca: d.ca.certPem })).rejects.toThrow(/certificate required/);
    const stranger = await AgentTls.create(await CertificateAuthority.generate());
    const foreign = stranger.clientCertificate;
    await expect(toAgent({ ca: d.ca.certPem, cert: foreign.certPem, key: foreign.keyPem })).rejects.toThrow(
      /socket hang up|ECONNRESET/,
    );
    // The control plane's kind of certificate (clientAuth, signed by the CA) gets through.
    const own = await AgentTls.create(d.ca);
    await expect(toAgent(own.connectOptions())).resolves.toBe(200);
  });
});
