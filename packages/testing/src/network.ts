/**
 * Test helpers for real namespaces (root): a guest emulated by a namespace at the guest
 * address wired to a slot's TAP by fixtures/tap-relay.py (what QEMU's TAP backend does),
 * tiny HTTP servers, and requests made from inside a namespace. Nothing here is used by
 * the agent itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import {
  buildDnsMessage,
  GATEWAY_IP,
  GUEST_IP,
  GUEST_MAC,
  parseDnsQuestion,
  runCommand,
  type SlotNetwork,
} from "@wrenn/host-agent";

const RELAY = fileURLToPath(new URL("./fixtures/tap-relay.py", import.meta.url));
/** The port the helpers' HTTP servers listen on. */
export const GUEST_PORT = 8080;

/** Resolves once `child` printed `line` on stdout; rejects if it exits first. */
export async function waitForLine(child: ChildProcess, line: string): Promise<void> {
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(line)) resolve();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before "${line}": ${output}`)));
  });
}

/** Runs `code` with node inside `namespace` and answers its trimmed stdout. */
export async function nodeIn(namespace: string, code: string): Promise<string> {
  return (await runCommand(["ip", "netns", "exec", namespace, process.execPath, "-e", code])).trim();
}

/** GET from inside `namespace`; resolves to the body, or to `"FAILED <reason>"`. */
export function httpGetFrom(namespace: string, url: string): Promise<string> {
  return nodeIn(
    namespace,
    `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(1500) })
    .then(r => r.text()).then(t => console.log(t), e => console.log("FAILED " + (e.cause?.code ?? e.name)))
    .finally(() => process.exit(0))`,
  );
}

/** A DNS server a test runs on loopback (see {@link startTestDns}). */
export interface TestDns {
  port: number;
  /** Names asked so far, in order. */
  queries: string[];
  close(): void;
}

/** A DNS server on 127.0.0.1 answering A queries from `zone` (other names: no records). */
export async function startTestDns(zone: Record<string, string>): Promise<TestDns> {
  const socket = createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (msg, from) => {
    const q = parseDnsQuestion(msg);
    if (!q) return;
    queries.push(q.name);
    const ip = zone[q.name];
    const answers = ip ? [{ ip, ttlSec: 30 }] : [];
    socket.send(
      buildDnsMessage(msg.readUInt16BE(0), q.name, { response: true, answers }),
      from.port,
      from.address,
    );
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  return { port: (socket.address() as AddressInfo).port, queries, close: () => socket.close() };
}

/** Processes and namespaces a test made, removed together by {@link GuestLab.cleanup}. */
export class GuestLab {
  readonly children: ChildProcess[] = [];
  readonly namespaces: string[] = [];

  /** A tiny HTTP server run by node inside `namespace`, answering `<name> <client address>`. */
  async startServer(namespace: string, name: string, host = "0.0.0.0", port = GUEST_PORT): Promise<void> {
    const code = `require("node:http").createServer((q, s) => s.end(${JSON.stringify(name)} + " " + q.socket.remoteAddress))
    .listen(${port}, ${JSON.stringify(host)}, () => console.log("listening"));`;
    const child = spawn("ip", ["netns", "exec", namespace, process.execPath, "-e", code], { stdio: "pipe" });
    this.children.push(child);
    await waitForLine(child, "listening");
  }

  /** Plays the VM of `slot`: a namespace at the guest address, attached to the slot's TAP. */
  async emulateGuest(slot: SlotNetwork, serve = true): Promise<string> {
    const guestNs = `wrenntest-g-${slot.idx}`;
    this.namespaces.push(guestNs);
    await runCommand(["ip", "netns", "add", guestNs]);
    await runCommand([
      "ip",
      "-n",
      slot.namespace,
      "link",
      "add",
      "relay0",
      "type",
      "veth",
      "peer",
      "name",
      "guest0",
    ]);
    await runCommand([
      "ip",
      "-n",
      slot.namespace,
      "link",
      "set",
      "relay0",
      "arp",
      "off",
      "promisc",
      "on",
      "up",
    ]);
    const relay = spawn(
      "ip",
      ["netns", "exec", slot.namespace, "python3", RELAY, "tap0", "relay0", "guest0"],
      {
        stdio: "pipe",
      },
    );
    this.children.push(relay);
    await waitForLine(relay, "ready");
    await runCommand(["ip", "-n", slot.namespace, "link", "set", "guest0", "netns", guestNs]);
    await runCommand(
      ["ip", "-n", guestNs, "-batch", "-"],
      [
        "link set lo up",
        `link set guest0 address ${GUEST_MAC}`,
        "link set guest0 up",
        `addr add ${GUEST_IP}/30 dev guest0`,
        `route add default via ${GATEWAY_IP}`,
      ].join("\n"),
    );
    if (serve) await this.startServer(guestNs, `guest-${slot.idx}`);
    return guestNs;
  }

  /**
   * An "internet" namespace `name` reachable from the host only through a veth whose host
   * end is `hostIp/24`, holding `addresses` (the first is the /24's) on its `eth0`.
   */
  async outside(name: string, hostLink: string, hostIp: string, addresses: string[]): Promise<void> {
    this.namespaces.push(name);
    await runCommand(["ip", "netns", "add", name]);
    await runCommand(["ip", "link", "add", hostLink, "type", "veth", "peer", "name", "eth0", "netns", name]);
    await runCommand(["ip", "addr", "add", `${hostIp}/24`, "dev", hostLink]);
    await runCommand(["ip", "link", "set", hostLink, "up"]);
    await runCommand(
      ["ip", "-n", name, "-batch", "-"],
      ["link set lo up", ...addresses.map((a) => `addr add ${a}/24 dev eth0`), "link set eth0 up"].join("\n"),
    );
  }

  /** Kills the helpers' processes and deletes their namespaces (links go with them). */
  async cleanup(): Promise<void> {
    for (const child of this.children) child.kill("SIGKILL");
    for (const ns of this.namespaces) await runCommand(["ip", "netns", "delete", ns]).catch(() => {});
  }
}
