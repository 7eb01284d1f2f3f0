import { createConnection, createServer, type Server, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import type { Logger } from "@wrenn/common";
import { ProcTable } from "./proc-table.ts";

/** A TCP listener found in /proc/net/tcp*. */
export interface Listener {
  port: number;
  /** Where the listener can be reached from inside the guest. */
  loopbackHost: "127.0.0.1" | "::1" | undefined;
  /** True for 0.0.0.0 / :: listeners, which are reachable from outside already. */
  wildcard: boolean;
}

const LISTEN_STATE = "0A";
const IPV4_LOCALHOST = "0100007F";
const IPV6_LOCALHOST = "00000000000000000000000001000000";
const IPV4_MAPPED_LOCALHOST = "0000000000000000FFFF00000100007F";

/** Parses the text of /proc/net/tcp or /proc/net/tcp6 into its listening sockets. */
export function parseProcNetTcp(text: string): Listener[] {
  const listeners: Listener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (!local || fields[3] !== LISTEN_STATE) continue;
    const [address = "", portHex = ""] = local.split(":");
    const port = Number.parseInt(portHex, 16);
    if (!Number.isInteger(port)) continue;
    const upper = address.toUpperCase();
    let loopbackHost: Listener["loopbackHost"];
    if (upper === IPV4_LOCALHOST || upper === IPV4_MAPPED_LOCALHOST) loopbackHost = "127.0.0.1";
    else if (upper === IPV6_LOCALHOST) loopbackHost = "::1";
    listeners.push({ port, loopbackHost, wildcard: /^0+$/.test(upper) });
  }
  return listeners;
}

/** Non-loopback IPv4 addresses of this machine (the guest's network address). */
export function externalAddresses(): string[] {
  const addresses: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.family === "IPv4" && !info.internal) addresses.push(info.address);
    }
  }
  return addresses;
}

interface Forward {
  servers: Server[];
  sockets: Set<Socket>;
}

/** Settings of {@link PortForwarder}. */
export interface PortForwarderOptions {
  /** Ports never forwarded (envd's own). */
  excludedPorts: number[];
  /** Addresses to expose forwarded ports on; default: every non-loopback IPv4 address. */
  addresses: (() => string[]) | undefined;
  intervalMs: number;
  logger: Logger;
}

/**
 * Makes servers that listen only on localhost inside the guest reachable on
 * the guest's network address (same port), so the port proxy works for them:
 * polls /proc/net/tcp* and opens or closes a TCP relay as listeners come and go.
 */
export class PortForwarder {
  private readonly forwards = new Map<number, Forward>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tables = ["/proc/net/tcp", "/proc/net/tcp6"].map((path) => ({
    table: new ProcTable(path),
    listeners: [] as Listener[],
  }));

  constructor(private readonly options: PortForwarderOptions) {}

  /** Starts polling. */
  start(): void {
    if (this.timer || this.options.intervalMs <= 0) return;
    this.timer = setInterval(() => this.scan(), this.options.intervalMs);
    this.timer.unref();
    this.scan();
  }

  /** Stops polling and closes every relay. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const port of [...this.forwards.keys()]) this.close(port);
    for (const source of this.tables) {
      source.table.close();
      source.listeners = [];
    }
  }

  /** Ports currently forwarded. */
  forwardedPorts(): number[] {
    return [...this.forwards.keys()].sort((a, b) => a - b);
  }

  /**
   * One polling round (exposed for tests). Synchronous and allocation-free while the tables'
   * bytes stay the same: it runs every second in every idle sandbox.
   */
  scan(): void {
    let changed = false;
    for (const source of this.tables) {
      const text = source.table.read();
      if (text === undefined) continue;
      source.listeners = parseProcNetTcp(text);
      changed = true;
    }
    if (changed) this.reconcile(this.tables.flatMap((source) => source.listeners));
  }

  private reconcile(listeners: Listener[]): void {
    const wildcardPorts = new Set(listeners.filter((l) => l.wildcard).map((l) => l.port));
    const wanted = new Map<number, "127.0.0.1" | "::1">();
    for (const listener of listeners) {
      if (!listener.loopbackHost || wildcardPorts.has(listener.port)) continue;
      if (this.options.excludedPorts.includes(listener.port)) continue;
      if (!wanted.has(listener.port) || listener.loopbackHost === "127.0.0.1") {
        wanted.set(listener.port, listener.loopbackHost);
      }
    }
    for (const port of [...this.forwards.keys()]) if (!wanted.has(port)) this.close(port);
    for (const [port, target] of wanted) if (!this.forwards.has(port)) this.open(port, target);
  }

  private open(port: number, target: "127.0.0.1" | "::1"): void {
    const addresses = this.options.addresses?.() ?? externalAddresses();
    const forward: Forward = { servers: [], sockets: new Set() };
    for (const address of addresses) {
      const server = createServer((client) => {
        const upstream = createConnection({ host: target, port });
        forward.sockets.add(client).add(upstream);
        const cleanup = () => {
          client.destroy();
          upstream.destroy();
          forward.sockets.delete(client);
          forward.sockets.delete(upstream);
        };
        client.on("error", cleanup).on("close", cleanup);
        upstream.on("error", cleanup).on("close", cleanup);
        client.pipe(upstream).pipe(client);
      });
      server.on("error", (err) => {
        this.options.logger.debug({ err, port, address }, "port forward unavailable");
        server.close();
      });
      server.listen({ port, host: address });
      forward.servers.push(server);
    }
    this.forwards.set(port, forward);
    this.options.logger.info({ port, addresses }, "forwarding localhost port");
  }

  private close(port: number): void {
    const forward = this.forwards.get(port);
    if (!forward) return;
    this.forwards.delete(port);
    for (const server of forward.servers) server.close();
    for (const socket of forward.sockets) socket.destroy();
    this.options.logger.info({ port }, "stopped forwarding port");
  }
}
