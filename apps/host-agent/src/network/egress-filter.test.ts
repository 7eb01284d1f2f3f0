/**
 * Egress policies enforced on real namespaces (needs root), with the guest emulated as in
 * netns.test.ts. Targets live in a test-made "internet" namespace (203.0.113.0/24, reached
 * through the host like real egress); the upstream resolver is this test's own DNS server on
 * loopback. Slots 962-969 only.
 */
import { createLogger, type EgressPolicy } from "@wrenn/common";
import {
  GUEST_PORT,
  GuestLab,
  httpGetFrom,
  nodeIn,
  startTestDns,
  type TestDns,
} from "@wrenn/testing/network";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SlotNetwork } from "./addresses.ts";
import { cleanupStaleNetworks } from "./cleanup.ts";
import { buildMessage, parseAddresses, parseQuestion } from "./dns-message.ts";
import { dnsInputRule } from "./egress.ts";
import { EgressFilter } from "./egress-filter.ts";
import { run } from "./exec.ts";
import { applyRules, defaultIptables, hasRule, listTaggedRules } from "./iptables.ts";
import { SandboxNetworks } from "./sandbox-networks.ts";

const TEST_SLOTS = (idx: number) => idx >= 962 && idx <= 969;
const OUTSIDE_NS = `wrenntest-eg-${process.pid}`;
const OUTSIDE_HOST_LINK = `wrt-e${process.pid % 100000}`;
const HOST_SIDE = "203.0.113.1";
const ALLOWED_IP = "203.0.113.2";
const OTHER_IP = "203.0.113.3";
/** What the test's DNS server answers. */
const ZONE: Record<string, string> = {
  "allowed.test": ALLOWED_IP,
  "api.wild.test": OTHER_IP,
  "other.test": OTHER_IP,
};
const lab = new GuestLab();
let dns: TestDns;
let networks: SandboxNetworks;
let slot: SlotNetwork;
let guest: string;

const open: EgressPolicy = { allowInternet: true, allowOut: [], denyOut: [] };
const get = (ip: string, port = GUEST_PORT) => httpGetFrom(guest, `http://${ip}:${port}/`);

/** Resolves `name` from the guest through `server` (any address: the filter takes all of port 53), then GETs it. */
function getByName(name: string, server = "8.8.8.8"): Promise<string> {
  return nodeIn(
    guest,
    `const r = new (require("node:dns").promises.Resolver)({ timeout: 1500, tries: 1 }); r.setServers([${JSON.stringify(server)}]);
    r.resolve4(${JSON.stringify(name)}).then(([ip]) => fetch("http://" + ip + ":${GUEST_PORT}/", { signal: AbortSignal.timeout(1500) }))
      .then(r => r.text()).then(t => console.log(t), e => console.log("FAILED " + (e.cause?.code ?? e.code ?? e.name)))
      .finally(() => process.exit(0))`,
  );
}

beforeAll(async () => {
  await cleanupStaleNetworks({ match: TEST_SLOTS });
  dns = await startTestDns(ZONE);
  networks = new SandboxNetworks({
    firstSlot: 962,
    lastSlot: 969,
    egressDns: { host: "127.0.0.1", port: dns.port },
  });
  slot = await networks.acquire();
  guest = await lab.emulateGuest(slot, false);
  await lab.outside(OUTSIDE_NS, OUTSIDE_HOST_LINK, HOST_SIDE, [ALLOWED_IP, OTHER_IP]);
  await lab.startServer(OUTSIDE_NS, "allowed", ALLOWED_IP);
  await lab.startServer(OUTSIDE_NS, "other", OTHER_IP);
  await lab.startServer(OUTSIDE_NS, "other-9090", OTHER_IP, 9090);
});

afterAll(async () => {
  await networks?.release(slot.idx).catch(() => {});
  await networks?.close();
  dns?.close();
  await lab.cleanup();
  const report = await cleanupStaleNetworks({ match: TEST_SLOTS });
  expect(report.failures).toEqual([]);
});

describe("egress policies on a live namespace", () => {
  it("lets everything out with the open policy (nothing installed)", async () => {
    await networks.applyEgress(slot.idx, open);
    expect(networks.egressFilter(slot.idx)).toBeUndefined();
    expect(await get(ALLOWED_IP)).toMatch(/^allowed /);
    expect(await get(OTHER_IP)).toMatch(/^other /);
  });

  it("denies a CIDR and lets the rest out", async () => {
    await networks.applyEgress(slot.idx, { ...open, denyOut: [`${OTHER_IP}/32`] });
    expect(await get(ALLOWED_IP)).toMatch(/^allowed /);
    expect(await get(OTHER_IP)).toMatch(/^FAILED/);
  });

  it("blocks everything without internet access, except allowed addresses and ports", async () => {
    await networks.applyEgress(slot.idx, { allowInternet: false, allowOut: [], denyOut: [] });
    expect(await get(ALLOWED_IP)).toMatch(/^FAILED/);
    expect(await get(OTHER_IP)).toMatch(/^FAILED/);
    await networks.applyEgress(slot.idx, {
      allowInternet: false,
      allowOut: [ALLOWED_IP, `${OTHER_IP}:9090`],
      denyOut: [],
    });
    expect(await get(ALLOWED_IP)).toMatch(/^allowed /);
    expect(await get(OTHER_IP)).toMatch(/^FAILED/);
    expect(await get(OTHER_IP, 9090)).toMatch(/^other-9090 /);
  });

  it("lets only addresses DNS gave for allowed domains through, whatever server the guest asks", async () => {
    await networks.applyEgress(slot.idx, {
      allowInternet: true,
      allowOut: ["allowed.test", "*.wild.test:9090"],
      denyOut: ["0.0.0.0/0"],
    });
    expect(await get(ALLOWED_IP)).toMatch(/^FAILED/); // not resolved yet: nothing pinned
    expect(await getByName("allowed.test")).toMatch(/^allowed /);
    expect(await getByName("allowed.test", "198.18.9.53")).toMatch(/^allowed /);
    // other.test resolves (the answer is relayed) but its address stays blocked.
    expect(await getByName("other.test")).toMatch(/^FAILED/);
    expect(dns.queries).toContain("other.test");
    expect(await get(OTHER_IP)).toMatch(/^FAILED/);
    // A wildcard with a port: the address is pinned for that port only.
    await getByName("api.wild.test");
    expect(await get(OTHER_IP, 9090)).toMatch(/^other-9090 /);
    expect(await get(OTHER_IP)).toMatch(/^FAILED/);
    expect(networks.egressFilter(slot.idx)?.pinned).toEqual(
      expect.arrayContaining([{ cidr: `${ALLOWED_IP}/32` }, { cidr: `${OTHER_IP}/32`, ports: [9090, 9090] }]),
    );
  });

  it("keeps what was pinned across an agent restart (read back from the namespace)", async () => {
    const policy = {
      allowInternet: true,
      allowOut: ["allowed.test", "*.wild.test:9090"],
      denyOut: ["0.0.0.0/0"],
    };
    // What a crashed agent leaves behind: the namespace and its rules, the DNS filter's host
    // rule, no DNS socket, no memory.
    const ipt = await defaultIptables();
    await networks.egressFilter(slot.idx)?.close();
    await applyRules(ipt, [dnsInputRule(slot)], "-I");
    const upstream = { host: "127.0.0.1", port: dns.port };
    const restarted = new EgressFilter(slot, await defaultIptables(), upstream, createLogger("egress-test"));
    await restarted.apply(policy);
    expect(restarted.pinned).toEqual(
      expect.arrayContaining([{ cidr: `${ALLOWED_IP}/32` }, { cidr: `${OTHER_IP}/32`, ports: [9090, 9090] }]),
    );
    expect(await get(ALLOWED_IP)).toMatch(/^allowed /); // no new DNS query needed
    expect(await get(OTHER_IP, 9090)).toMatch(/^other-9090 /);
    await restarted.close();
    // The host rule was reused, not doubled: closing removed the only copy.
    expect(await hasRule(ipt, dnsInputRule(slot))).toBe(false);
  });

  it("takes an update on the running network at once, keeping pins of names still allowed", async () => {
    await networks.applyEgress(slot.idx, { allowInternet: false, allowOut: ["allowed.test"], denyOut: [] });
    expect(await get(ALLOWED_IP)).toMatch(/^allowed /);
    expect(await get(OTHER_IP, 9090)).toMatch(/^FAILED/);
    await networks.applyEgress(slot.idx, open);
    expect(await get(OTHER_IP)).toMatch(/^other /);
    // The open policy needs no DNS filter: its host rule is gone.
    const rules = (await listTaggedRules(await defaultIptables())).filter((r) => r.idx === slot.idx);
    expect(rules.some((r) => r.spec.includes("53"))).toBe(false);
  });

  it("removes the filter with the network", async () => {
    await networks.applyEgress(slot.idx, {
      allowInternet: true,
      allowOut: ["allowed.test"],
      denyOut: ["0.0.0.0/0"],
    });
    const withDns = (await listTaggedRules(await defaultIptables())).filter((r) => r.idx === slot.idx);
    expect(withDns.some((r) => r.chain === "INPUT" && r.spec.includes("53"))).toBe(true);
    await networks.release(slot.idx);
    expect((await listTaggedRules(await defaultIptables())).filter((r) => r.idx === slot.idx)).toEqual([]);
    expect(networks.egressFilter(slot.idx)).toBeUndefined();
    expect(await run(["ip", "netns", "list"])).not.toContain(slot.namespace);
  });
});

describe("dns-message", () => {
  it("reads the question and the A records of a CNAME chain", () => {
    const answer = buildMessage(7, "www.example.com", {
      cname: "edge.cdn.test",
      answers: [
        { ip: "192.0.2.1", ttlSec: 60 },
        { ip: "192.0.2.2", ttlSec: 30 },
      ],
    });
    expect(parseQuestion(answer)).toEqual({ name: "www.example.com", type: 1 });
    expect(parseAddresses(answer).map((a) => a.ip)).toEqual(["192.0.2.1", "192.0.2.2"]);
    expect(parseAddresses(Buffer.from([1, 2, 3]))).toEqual([]);
    expect(parseQuestion(Buffer.alloc(5))).toBeUndefined();
  });
});
