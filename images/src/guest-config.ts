/**
 * Facts about the guest that hosts need to boot it. The network values are the defaults
 * baked into `wrenn-init`; every guest uses the same link-local address so a snapshot
 * restores without reconfiguring the guest.
 */
export const GUEST_NETWORK = {
  address: "169.254.0.21",
  prefixLength: 30,
  gateway: "169.254.0.22",
  interface: "eth0",
} as const;

/** The port envd listens on inside the guest. */
export const ENVD_PORT = 49983;

/** Options for {@link guestKernelCmdline}. */
export interface GuestCmdlineOptions {
  hostname?: string;
  /** Guest address with prefix length, e.g. `169.254.0.21/30`. */
  ip?: string;
  gateway?: string;
  /** DNS servers written to the guest's /etc/resolv.conf. */
  dns?: string[];
  /** Extra kernel parameters appended verbatim. */
  extra?: string[];
}

const CMDLINE_VALUE = /^[A-Za-z0-9.:/_-]+$/;

function param(name: string, value: string | undefined): string[] {
  if (value === undefined) return [];
  if (!CMDLINE_VALUE.test(value))
    throw new RangeError(`invalid kernel parameter value for ${name}: ${value}`);
  return [`${name}=${value}`];
}

/**
 * The kernel command line for a Wrenn guest: serial console, root on the first virtio
 * disk, and the `wrenn.*` parameters `wrenn-init` reads.
 */
export function guestKernelCmdline(opts: GuestCmdlineOptions = {}): string {
  return [
    "console=ttyS0",
    "root=/dev/vda",
    "rootfstype=ext4",
    "rw",
    "panic=1",
    // Kernel chatter over an emulated UART slows the boot; wrenn-init still logs its steps.
    "quiet",
    ...param("wrenn.hostname", opts.hostname),
    ...param("wrenn.ip", opts.ip),
    ...param("wrenn.gw", opts.gateway),
    ...param("wrenn.dns", opts.dns?.join(",")),
    ...(opts.extra ?? []),
  ].join(" ");
}
