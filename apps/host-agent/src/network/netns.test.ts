/**
 * Real namespaces, veths, TAPs and iptables rules (needs root). No VM runs here: the guest is
 * emulated by a namespace holding the guest address, wired to the sandbox's real TAP by a small
 * relay (@wrenn/testing fixtures/tap-relay.py) that does what QEMU's TAP backend does. Slots 950-961 and 970-999
 * only (egress-filter.test.ts, which runs beside it, owns 962-969), so other suites' networks are
 * never touched; traffic stays on this host's own namespaces.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, readlink, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GUEST_PORT, GuestLab, httpGetFrom } from "@wrenn/testing/network";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GATEWAY_IP,
  GUEST_IP,
  netnsExecPrefix,
  qemuNetdevArgs,
  type SlotNetwork,
  slotNetwork,
} from "./addresses.ts";
import { cleanupStaleNetworks } from "./cleanup.ts";
import { run } from "./exec.ts";
import { defaultIptables, iptablesFor, listTaggedRules } from "./iptables.ts";
import { createNetwork, NETWORK_STEPS, removeNetwork } from "./netns.ts";
import { SandboxNetworks } from "./sandbox-networks.ts";

// Its beforeAll/afterAll sweep these: a range that took in 962-969 removed egress-filter.test.ts'
// namespaces mid-run when both files ran at once (ENETUNREACH there).
const TEST_SLOTS = (idx: number) => (idx >= 950 && idx <= 961) || (idx >= 970 && idx <= 999);
const OUTSIDE_NS = `wrenntest-out-${process.pid}`;
const OUTSIDE_HOST_LINK = `wrt-o${process.pid % 100000}`;
const OUTSIDE_IP = "198.51.100.2";
const OUTSIDE_HOST_IP = "198.51.100.1";
const lab = new GuestLab();

/** GET from the host; resolves to the body or rejects (timeout included). */
function httpGet(url: string, timeoutMs = 3000): Promise<string> {
  return fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).then((res) => res.text());
}

async function namespaces(): Promise<string[]> {
  return (await run(["ip", "netns", "list"])).split("\n").map((line) => line.split(" ")[0] ?? "");
}

async function links(): Promise<string> {
  return run(["ip", "-o", "link", "show"]);
}

async function taggedRules(idx: number) {
  return (await listTaggedRules(await defaultIptables())).filter((rule) => rule.idx === idx);
}

async function assertNothingLeft(idx: number) {
  const slot = slotNetwork(idx);
  expect(await namespaces()).not.toContain(slot.namespace);
  expect(await links()).not.toMatch(new RegExp(`: ${slot.vethName}[@:]`));
  expect(await taggedRules(idx)).toEqual([]);
  expect(await run(["ip", "route", "show", `${slot.hostIp}/32`])).toBe("");
}

beforeAll(async () => {
  await cleanupStaleNetworks({ match: TEST_SLOTS });
});

afterAll(async () => {
  await lab.cleanup();
  await run(["ip", "link", "delete", OUTSIDE_HOST_LINK]).catch(() => {});
  const report = await cleanupStaleNetworks({ match: TEST_SLOTS });
  expect(report.failures).toEqual([]);
});

describe("createNetwork / removeNetwork", () => {
  it("creates every part of a slot and removes all of it", async () => {
    const started = performance.now();
    const slot = await createNetwork(950);
    const createMs = performance.now() - started;
    expect(await namespaces()).toContain("wrenn-ns-950");
    expect(await links()).toMatch(/: wrenn-veth-950@/);
    expect(await run(["ip", "route", "show", `${slot.hostIp}/32`])).toContain("dev wrenn-veth-950");
    const tap = await run(["ip", "-n", slot.namespace, "addr", "show", "tap0"]);
    expect(tap).toContain(`inet ${GATEWAY_IP}/30`);
    expect(tap).toContain("link/ether 02:77:72:00:00:22");
    const ipt = await defaultIptables();
    const nsRules = await run(["ip", "netns", "exec", slot.namespace, ipt.command, "-t", "nat", "-S"]);
    expect(nsRules).toContain(`--to-destination ${GUEST_IP}`);
    expect(nsRules).toContain(`--to-source ${slot.hostIp}`);
    expect((await taggedRules(950)).map((r) => r.chain).sort()).toEqual([
      "FORWARD",
      "FORWARD",
      "FORWARD",
      "INPUT",
      "INPUT",
      "POSTROUTING",
      "POSTROUTING",
    ]);
    const removeStarted = performance.now();
    await removeNetwork(950);
    console.log(
      `network create ${createMs.toFixed(0)} ms, remove ${(performance.now() - removeStarted).toFixed(0)} ms`,
    );
    await assertNothingLeft(950);
    await removeNetwork(950); // idempotent: a second removal finds nothing and does not fail
  });

  it.each(NETWORK_STEPS.slice(1).map((step, i) => [step, i + 1]))(
    "rolls back everything when step %s fails",
    async (failingStep) => {
      const injected = new Error(`injected failure at ${failingStep}`);
      const attempt = createNetwork(951, {
        beforeStep: (step) => {
          if (step === failingStep) throw injected;
        },
      });
      await expect(attempt).rejects.toMatchObject({ code: "internal", cause: injected });
      await assertNothingLeft(951);
    },
  );

  it("rolls back after a real failure and leaves a namespace it did not create alone", async () => {
    // A route already occupying the slot's host address makes the "host-link" step fail for real.
    const slot = slotNetwork(952);
    await run(["ip", "route", "add", "blackhole", `${slot.hostIp}/32`]);
    try {
      await expect(createNetwork(952)).rejects.toMatchObject({ code: "internal" });
      expect(await namespaces()).not.toContain(slot.namespace);
      expect(await links()).not.toContain(slot.vethName);
    } finally {
      await run(["ip", "route", "delete", "blackhole", `${slot.hostIp}/32`]);
    }
    await run(["ip", "netns", "add", slot.namespace]);
    await expect(createNetwork(952)).rejects.toMatchObject({ code: "internal" });
    expect(await namespaces()).toContain(slot.namespace);
    await run(["ip", "netns", "delete", slot.namespace]);
    await assertNothingLeft(952);
  });
});

describe("parallel use and QEMU", () => {
  it("creates and removes several slots concurrently", async () => {
    const networks = new SandboxNetworks({ firstSlot: 980, config: { maxSlots: 984 } });
    const slots = await Promise.all([networks.acquire(), networks.acquire(), networks.acquire()]);
    expect(slots.map((slot) => slot.idx).sort()).toEqual([980, 981, 982]);
    for (const slot of slots) expect(await taggedRules(slot.idx)).toHaveLength(7);
    await Promise.all(slots.map((slot) => networks.release(slot.idx)));
    for (const slot of slots) await assertNothingLeft(slot.idx);
    expect(networks.slots.inUse).toBe(0);
  });

  it("hands out pre-created networks from a warm pool and removes the unused ones on close", async () => {
    const networks = new SandboxNetworks({ firstSlot: 986, config: { maxSlots: 990 }, warmPoolSize: 2 });
    await networks.warmUp();
    expect(networks.warmCount).toBe(2);
    // Served from the pool: its namespace existed before the call (the pool refills behind it).
    const before = await namespaces();
    const slot = await networks.acquire();
    expect(before).toContain(slot.namespace);
    expect(await namespaces()).toContain(slot.namespace);
    await networks.warmUp();
    expect(networks.warmCount).toBe(2);
    expect(networks.slots.inUse).toBe(3);
    await networks.close();
    expect(networks.slots.inUse).toBe(1);
    await networks.release(slot.idx);
    for (let idx = 986; idx <= 990; idx++) await assertNothingLeft(idx);
  });

  it("runs QEMU inside the namespace, attached to the slot's TAP, under its own pid", async () => {
    const slot = await createNetwork(985);
    const argv = [
      ...netnsExecPrefix(985),
      "qemu-system-x86_64",
      ...["-M", "microvm", "-nodefaults", "-no-user-config", "-display", "none", "-m", "32"],
      ...qemuNetdevArgs(),
    ];
    const qemu = spawn(argv[0] as string, argv.slice(1), { stdio: "ignore" });
    lab.children.push(qemu);
    try {
      // QEMU opens the TAP at start-up; the link gains carrier once a backend is attached.
      await expect
        .poll(async () => run(["ip", "-n", slot.namespace, "link", "show", "tap0"]), { timeout: 10_000 })
        .toContain("LOWER_UP");
      const status = await readFile(`/proc/${qemu.pid}/status`, "utf8");
      expect(status).toMatch(/^Name:\s+qemu-system-x86/m);
      const netns = await readlink(`/proc/${qemu.pid}/ns/net`);
      expect(netns).toBe(`net:[${(await stat(`/run/netns/${slot.namespace}`)).ino}]`);
    } finally {
      qemu.kill("SIGKILL");
      await once(qemu, "exit");
    }
    await removeNetwork(985);
    await assertNothingLeft(985);
  });
});

describe("cleanupStaleNetworks", () => {
  it("removes rules a run with the other iptables backend left behind", async () => {
    const primary = await defaultIptables();
    const other = iptablesFor(primary.backend === "nft" ? "legacy" : "nft");
    // Debian's iptables package ships both front ends; a missing one is a broken host.
    expect(other).toBeDefined();
    if (!other) return;
    await createNetwork(956, { iptables: other });
    expect((await listTaggedRules(other)).filter((rule) => rule.idx === 956)).toHaveLength(7);
    const report = await cleanupStaleNetworks({ match: (idx) => idx === 956, iptables: primary });
    expect(report.failures).toEqual([]);
    expect(report.rules).toBe(7);
    expect((await listTaggedRules(other)).filter((rule) => rule.idx === 956)).toEqual([]);
    await assertNothingLeft(956);
  });

  it("removes namespaces, links and rules a crashed run left, and only those it is asked to", async () => {
    await createNetwork(953);
    await createNetwork(954);
    await createNetwork(955);
    // A half-removed slot: namespace gone, but host rules still present.
    await run(["ip", "netns", "delete", "wrenn-ns-955"]);
    const report = await cleanupStaleNetworks({ match: (idx) => idx === 953 || idx === 955 });
    expect(report.failures).toEqual([]);
    expect(report.namespaces).toEqual(["wrenn-ns-953"]);
    expect(report.rules).toBe(14);
    await assertNothingLeft(953);
    await assertNothingLeft(955);
    expect(await namespaces()).toContain("wrenn-ns-954");
    expect(await taggedRules(954)).toHaveLength(7);
    await removeNetwork(954);
    await assertNothingLeft(954);
  });
});

describe("traffic", () => {
  let a: SlotNetwork;
  let b: SlotNetwork;
  let guestA: string;
  let hostServer: Server;

  beforeAll(async () => {
    a = await createNetwork(960);
    b = await createNetwork(961);
    guestA = await lab.emulateGuest(a);
    await lab.emulateGuest(b);
    // An "internet" namespace connected to the host only, to prove MASQUERADEd egress.
    await lab.outside(OUTSIDE_NS, OUTSIDE_HOST_LINK, OUTSIDE_HOST_IP, [OUTSIDE_IP]);
    await lab.startServer(OUTSIDE_NS, "outside");
    hostServer = createServer((_req, res) => res.end("host")).listen(0, "0.0.0.0");
    await once(hostServer, "listening");
  });

  afterAll(async () => {
    hostServer?.close();
    await removeNetwork(960);
    await removeNetwork(961);
  });

  it("reaches each guest from the host at its slot's host-reachable address", async () => {
    expect(await httpGet(`http://${a.hostIp}:${GUEST_PORT}/`)).toBe(`guest-960 ${a.vethIp}`);
    expect(await httpGet(`http://${b.hostIp}:${GUEST_PORT}/`)).toBe(`guest-961 ${b.vethIp}`);
  });

  it("lets a guest reach the outside world, masqueraded behind the host", async () => {
    expect(await httpGetFrom(guestA, `http://${OUTSIDE_IP}:${GUEST_PORT}/`)).toBe(
      `outside ${OUTSIDE_HOST_IP}`,
    );
  });

  it("keeps sandboxes apart: guest A cannot reach guest B, nor the host's own services", async () => {
    expect(await httpGetFrom(guestA, `http://${b.hostIp}:${GUEST_PORT}/`)).toMatch(/^FAILED/);
    expect(await httpGetFrom(guestA, `http://${b.vpeerIp}:${GUEST_PORT}/`)).toMatch(/^FAILED/);
    const hostPort = (hostServer.address() as AddressInfo).port;
    expect(await httpGetFrom(guestA, `http://${a.vethIp}:${hostPort}/`)).toMatch(/^FAILED/);
    // The host still reaches both (the failures above are isolation, not a broken network).
    expect(await httpGet(`http://${b.hostIp}:${GUEST_PORT}/`)).toBe(`guest-961 ${b.vethIp}`);
  });
});
