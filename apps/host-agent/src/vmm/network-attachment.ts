import { createServer } from "node:net";
import type { EgressPolicy } from "@wrenn/common";
import type { NetworkAttachment } from "./types.ts";

/** The guest's fixed address and its gateway: the same in every VM, so snapshots restore unchanged. */
export const GUEST_NET = {
  guestIp: "169.254.0.21",
  gatewayIp: "169.254.0.22",
  prefix: 30,
  envdPort: 49983,
} as const;

/** Kernel parameters the guest init reads to configure its NIC. */
export function guestNetKernelArgs(): string {
  return `wrenn.ip=${GUEST_NET.guestIp}/${GUEST_NET.prefix} wrenn.gw=${GUEST_NET.gatewayIp}`;
}

/**
 * QEMU user-mode networking: no root networking needed, envd forwarded to a
 * loopback port. Used where per-sandbox namespaces are unavailable (development,
 * tests of the VM layer). The slirp network is laid out so the guest's fixed
 * address and gateway match the TAP setup exactly.
 */
export class UserModeNetwork implements NetworkAttachment {
  readonly guestHost = undefined;
  readonly envdEndpoint: { host: string; port: number };
  readonly description: string;

  constructor(hostPort: number) {
    this.envdEndpoint = { host: "127.0.0.1", port: hostPort };
    this.description = `user-mode 127.0.0.1:${hostPort}`;
  }

  /** Allocates a free loopback port and returns an attachment forwarding it to envd. */
  static async allocate(): Promise<UserModeNetwork> {
    return new UserModeNetwork(await freeLoopbackPort());
  }

  qemuNetdev(): string {
    return [
      "user,id=n0",
      "net=169.254.0.0/24",
      `host=${GUEST_NET.gatewayIp}`,
      "dhcpstart=169.254.0.100",
      "restrict=off",
      `hostfwd=tcp:127.0.0.1:${this.envdEndpoint.port}-${GUEST_NET.guestIp}:${GUEST_NET.envdPort}`,
    ].join(",");
  }

  wrapCommand(command: string, args: string[]): { command: string; args: string[] } {
    return { command, args };
  }
}

/**
 * A TAP device `tap0` inside a prepared network namespace: the production
 * attachment. The namespace, veth pair, addresses and NAT are set up by the
 * network module; this only launches the VMM inside the namespace.
 */
export class NamespaceTapNetwork implements NetworkAttachment {
  readonly envdEndpoint: { host: string; port: number };
  readonly description: string;

  constructor(
    private readonly namespace: string,
    readonly guestHost: string,
  ) {
    this.envdEndpoint = { host: guestHost, port: GUEST_NET.envdPort };
    this.description = `netns ${namespace} (${guestHost})`;
  }

  qemuNetdev(): string {
    return "tap,id=n0,ifname=tap0,script=no,downscript=no";
  }

  wrapCommand(command: string, args: string[]): { command: string; args: string[] } {
    return { command: "ip", args: ["netns", "exec", this.namespace, command, ...args] };
  }
}

/** Returns a currently free TCP port on 127.0.0.1. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

/** A network attachment held by one VM, released when the VM is gone for good (or paused). */
export interface NetworkLease {
  attachment: NetworkAttachment;
  release(): Promise<void>;
  /** What a restarted agent needs to take the lease over with {@link NetworkProvider.adopt}. */
  persisted?: PersistedNetwork;
  /**
   * Enforces an egress policy on this network from now on, replacing the previous one.
   * Absent where the attachment cannot filter traffic (user-mode networking).
   */
  applyEgress?(policy: EgressPolicy): Promise<void>;
}

/** A lease as saved in the sandbox record while its VM runs (JSON). */
export type PersistedNetwork =
  | { kind: "user"; port: number }
  | { kind: "netns-tap"; slot: number; namespace: string; hostIp: string };

/**
 * Hands out network attachments. The sandbox manager only knows this seam: the
 * user-mode provider below, or the per-sandbox namespace provider (netns + veth
 * + TAP + NAT) of the network module. Template captures and sandboxes must use
 * the same provider kind: the VMM's network backend is part of a snapshot.
 */
export interface NetworkProvider {
  /** Recorded in snapshot metadata (`user`, `netns-tap`). */
  readonly kind: string;
  acquire(ownerId: string): Promise<NetworkLease>;
  /**
   * Takes over the lease of a VM that survived an agent restart (its network was left in
   * place). Undefined when `persisted` is not this provider's or its slot is taken.
   */
  adopt?(ownerId: string, persisted: PersistedNetwork): Promise<NetworkLease | undefined>;
}

/** Provider of {@link UserModeNetwork} attachments (nothing to release but the port). */
export class UserModeNetworkProvider implements NetworkProvider {
  readonly kind = "user";

  async acquire(): Promise<NetworkLease> {
    const attachment = await UserModeNetwork.allocate();
    return {
      attachment,
      release: async () => {},
      persisted: { kind: "user", port: attachment.envdEndpoint.port },
    };
  }

  async adopt(_ownerId: string, persisted: PersistedNetwork): Promise<NetworkLease | undefined> {
    if (persisted.kind !== "user") return undefined;
    // The forward lives inside the QEMU process: it came along with the VM.
    return { attachment: new UserModeNetwork(persisted.port), release: async () => {}, persisted };
  }
}
