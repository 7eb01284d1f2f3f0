/**
 * mTLS between the control plane and a real host agent listener on loopback: the agent's
 * RPC server with a real (empty) sandbox manager and its real port proxy, real TLS sockets.
 * A loopback HTTP + WebSocket server stands in for a service inside a guest.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { createLogger } from "@wrenn/common";
import { type AgentServer, ConnTracker, SandboxProxy, startAgentServer } from "@wrenn/host-agent";
import { vmlessAgentParts } from "@wrenn/testing/hosts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import type { ProxyAddress } from "../proxy/address.ts";
import { AgentForwarder } from "../proxy/forward.ts";
import { AgentTls, HOST_CERT_TTL_MS } from "../tls/agent-tls.ts";
import { CertificateAuthority, type IssuedCertificate } from "../tls/ca.ts";
import { callAgent, HostClientPool } from "./pool.ts";

const log = createLogger("mtls-test", "silent");
let agentDir: string;
let agent: AgentServer;
let address: string;
let caPem: { certPem: string; keyPem: string };
let ca: CertificateAuthority;
let cpTls: AgentTls;
let hostCert: IssuedCertificate;
let guest: Server;
let guestWs: WebSocketServer;
let guestPort: number;

const portOf = (server: Server) => (server.address() as AddressInfo).port;

beforeAll(async () => {
  agentDir = await mkdtemp(join(tmpdir(), "wrenn-mtls-agent-"));
  const { manager, templates } = await vmlessAgentParts(agentDir, log);

  guest = createServer((req, res) => res.end(`guest saw ${req.method} ${req.url}`));
  guestWs = new WebSocketServer({ server: guest });
  guestWs.on("connection", (socket) => socket.on("message", (data) => socket.send(`echo:${data}`)));
  guest.listen(0, "127.0.0.1");
  await once(guest, "listening");
  guestPort = portOf(guest);
  const conns = new ConnTracker();
  const proxy = new SandboxProxy({
    resolve: (id) => (id === "sb-1" ? { host: "127.0.0.1", conns } : null),
  });

  // Started plain, as an agent is before it registers; TLS is switched on like registration does.
  agent = await startAgentServer({ manager, templates, logger: log, proxy }, { host: "127.0.0.1", port: 0 });
  address = `127.0.0.1:${agent.port}`;
  caPem = await CertificateAuthority.generate();
  ca = await CertificateAuthority.load(caPem.certPem, caPem.keyPem);
  cpTls = await AgentTls.create(caPem);
  hostCert = await ca.issue({ use: "server", commonName: "host-a", address, ttlMs: HOST_CERT_TTL_MS });
  expect(agent.tls).toBe(false);
  agent.setTls({ certPem: hostCert.certPem, keyPem: hostCert.keyPem, caCertPem: ca.certPem });
  expect(agent.tls).toBe(true);
});

afterAll(async () => {
  await agent?.close();
  for (const c of guestWs?.clients ?? []) c.terminate();
  guestWs?.close();
  guest?.closeAllConnections();
  guest?.close();
  if (agentDir) await rm(agentDir, { recursive: true, force: true });
});

/** One HTTP/1.1-over-TLS request to the agent: its status, or the TLS/connection error. */
function agentRequest(tls: ConnectionOptions, path = "/proxy/sb-nope/1/x"): Promise<number> {
  const [host, port] = [address.split(":")[0], Number(address.split(":")[1])];
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host, port, path, agent: false, ...(tls as RequestOptions) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/** The fingerprint of the certificate the agent presents on a new TLS connection (kept open). */
async function peerFingerprint(): Promise<{ fingerprint: string; close: () => void }> {
  const socket = tlsConnect({ host: "127.0.0.1", port: agent.port, ...cpTls.connectOptions() });
  await once(socket, "secureConnect");
  const fingerprint = socket.getPeerCertificate().fingerprint256.replaceAll(":", "").toLowerCase();
  return { fingerprint, close: () => socket.destroy() };
}

describe("agent listener under mTLS", () => {
  it("serves Connect over HTTP/2 to the control plane's pool, verified against the CA", async () => {
    const pool = new HostClientPool({ tls: cpTls });
    const client = pool.get({ id: "h", address });
    const listed = await callAgent("list", () => client.listSandboxes({}));
    expect(listed.sandboxes).toEqual([]);
    // Plain h2c to a TLS agent fails as "unavailable", never succeeds.
    const plain = new HostClientPool({ timeoutMs: 5_000 }).get({ id: "h", address });
    const err = await callAgent("list", () => plain.listSandboxes({})).catch((e) => e);
    expect(err.code).toBe("unavailable");
  });

  it("rejects clients without a certificate, with another CA's, or with a host's server certificate", async () => {
    // The same request is accepted with the control plane's certificate and refused with the others:
    // a client without one gets TLS 1.3's "certificate required" alert, a client with a bad one is cut.
    const caOnly = { ca: ca.certPem };
    await expect(agentRequest(cpTls.connectOptions())).resolves.toBe(404); // accepted: no such sandbox
    await expect(agentRequest(caOnly)).rejects.toThrow(/certificate required/);

    const other = await AgentTls.create(await CertificateAuthority.generate());
    const foreign = other.clientCertificate;
    await expect(agentRequest({ ...caOnly, cert: foreign.certPem, key: foreign.keyPem })).rejects.toThrow(
      /socket hang up|ECONNRESET/,
    );
    // Every host's certificate chains to the same CA, but carries serverAuth only: a host cannot
    // use its own certificate to call another host's agent.
    const otherHost = await ca.issue({
      use: "server",
      commonName: "host-b",
      address: "127.0.0.2:1",
      ttlMs: 60_000,
    });
    await expect(agentRequest({ ...caOnly, cert: otherHost.certPem, key: otherHost.keyPem })).rejects.toThrow(
      /socket hang up|ECONNRESET/,
    );
  });

  it("is verified by the control plane: another CA's agent or a name not in the SAN is refused", async () => {
    const other = await AgentTls.create(await CertificateAuthority.generate());
    const stranger = new HostClientPool({ tls: other, timeoutMs: 5_000 }).get({ id: "h", address });
    expect((await callAgent("list", () => stranger.listSandboxes({})).catch((e) => e)).code).toBe(
      "unavailable",
    );
    await expect(agentRequest({ ...cpTls.connectOptions(), ca: other.ca.certPem })).rejects.toThrow(
      /self.signed|unable to verify|local issuer/i,
    );
    // The certificate names 127.0.0.1 only.
    const wrongName = new HostClientPool({ tls: cpTls, timeoutMs: 5_000 }).get({
      id: "h",
      address: `localhost:${agent.port}`,
    });
    const err = await callAgent("list", () => wrongName.listSandboxes({})).catch((e) => e);
    expect([err.code, err.message]).toEqual([
      "unavailable",
      "host agent unavailable while trying to list (TLS handshake failed)",
    ]);
    expect(String(err.cause?.cause)).toMatch(/altnames/);
  });

  it("forwards port-proxy HTTP and WebSocket upgrades over mTLS (HTTP/1.1 by ALPN)", async () => {
    const forwarder = new AgentForwarder(cpTls);
    const target: ProxyAddress = { sandboxId: "1", wireId: "sb-1", port: guestPort };
    const front = createServer((req, res) => {
      forwarder.forwardHttp(req, res, address, target).catch((err) => res.writeHead(503).end(String(err)));
    });
    front.on("upgrade", (req: IncomingMessage, socket, head) =>
      forwarder.forwardUpgrade(req, socket, head, address, target),
    );
    front.listen(0, "127.0.0.1");
    await once(front, "listening");
    try {
      const res = await fetch(`http://127.0.0.1:${portOf(front)}/hello?x=1`);
      expect(await res.text()).toBe("guest saw GET /hello?x=1");
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(front)}/ws`);
      await once(ws, "open");
      ws.send("ping");
      const [reply] = await once(ws, "message");
      expect(String(reply)).toBe("echo:ping");
      ws.close();
      // Without TLS the same forwarder set-up cannot reach the agent at all.
      const plain = new AgentForwarder();
      const plainFront = createServer((req, res) => {
        plain.forwardHttp(req, res, address, target).catch((err) => res.writeHead(503).end(err.code));
      });
      plainFront.listen(0, "127.0.0.1");
      await once(plainFront, "listening");
      const refused = await fetch(`http://127.0.0.1:${portOf(plainFront)}/hello`);
      expect([refused.status, await refused.text()]).toEqual([503, "unavailable"]);
      plainFront.close();
      plain.close();
    } finally {
      forwarder.close();
      front.closeAllConnections();
      front.close();
    }
  });

  it("hot-swaps the agent's certificate for new connections without a restart", async () => {
    const before = await peerFingerprint();
    expect(before.fingerprint).toBe(hostCert.fingerprint);
    const pool = new HostClientPool({ tls: cpTls });
    const client = pool.get({ id: "h", address });
    await callAgent("list", () => client.listSandboxes({}));

    const renewed = await ca.issue({ use: "server", commonName: "host-a", address, ttlMs: HOST_CERT_TTL_MS });
    agent.setTls({ certPem: renewed.certPem, keyPem: renewed.keyPem, caCertPem: ca.certPem });
    const after = await peerFingerprint();
    expect(after.fingerprint).toBe(renewed.fingerprint);
    expect(after.fingerprint).not.toBe(before.fingerprint);
    // Sessions opened before the swap keep working.
    await expect(callAgent("list", () => client.listSandboxes({}))).resolves.toBeDefined();
    before.close();
    after.close();
    expect(() => agent.setTls({ certPem: "garbage", keyPem: "garbage", caCertPem: ca.certPem })).toThrow();
    // A refused swap leaves the renewed certificate in place.
    const still = await peerFingerprint();
    expect(still.fingerprint).toBe(renewed.fingerprint);
    still.close();
  });

  it("uses the control plane's renewed client certificate for new clients", async () => {
    const tls = await AgentTls.create(caPem);
    const pool = new HostClientPool({ tls });
    const first = pool.get({ id: "h", address });
    await callAgent("list", () => first.listSandboxes({}));
    await tls.renew();
    const second = pool.get({ id: "h", address });
    expect(second).not.toBe(first);
    await expect(callAgent("list", () => second.listSandboxes({}))).resolves.toBeDefined();
  });
});
