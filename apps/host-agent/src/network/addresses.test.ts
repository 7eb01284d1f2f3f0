import { describe, expect, it } from "vitest";
import {
  DEFAULT_NETWORK_CONFIG,
  GUEST_MAC,
  netnsExecPrefix,
  qemuNetdevArgs,
  slotNetwork,
  validateNetworkConfig,
} from "./addresses.ts";

describe("slot addresses", () => {
  it("derives names and addresses from the index", () => {
    expect(slotNetwork(1)).toEqual({
      idx: 1,
      namespace: "wrenn-ns-1",
      vethName: "wrenn-veth-1",
      vpeerName: "wrenn-vp-1",
      vethIp: "10.12.0.2",
      vpeerIp: "10.12.0.3",
      hostIp: "10.11.0.1",
      ruleComment: "wrenn-1",
    });
    const big = slotNetwork(4000);
    expect(big.hostIp).toBe("10.11.15.160");
    expect([big.vethIp, big.vpeerIp]).toEqual(["10.12.31.64", "10.12.31.65"]);
    expect(big.vethName.length).toBeLessThanOrEqual(15);
  });

  it("gives every slot distinct addresses", () => {
    const seen = new Set<string>();
    for (let idx = 1; idx <= DEFAULT_NETWORK_CONFIG.maxSlots; idx++) {
      const slot = slotNetwork(idx);
      for (const ip of [slot.hostIp, slot.vethIp, slot.vpeerIp]) seen.add(ip);
    }
    expect(seen.size).toBe(3 * DEFAULT_NETWORK_CONFIG.maxSlots);
  });

  it("uses a configurable plan and rejects plans that cannot hold every slot", () => {
    const config = { hostCidr: "172.30.0.0/22", vethCidr: "172.31.0.0/20", maxSlots: 1000 };
    expect(validateNetworkConfig(config)).toBe(config);
    expect(slotNetwork(1000, config).hostIp).toBe("172.30.3.232");
    expect(() => validateNetworkConfig({ ...config, vethCidr: "172.31.0.0/22" })).toThrow(/too small/);
    expect(() => validateNetworkConfig({ ...config, vethCidr: "172.30.0.0/16" })).toThrow(/overlap/);
    expect(() => validateNetworkConfig({ ...config, hostCidr: "nonsense" })).toThrow(/CIDR/);
  });

  it("accepts only integer indices in range", () => {
    for (const bad of [0, -3, 2.5, 10_000, Number.NaN, "1" as unknown as number]) {
      expect(() => slotNetwork(bad)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
      expect(() => netnsExecPrefix(bad)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    }
    expect(() => slotNetwork(4097)).toThrow(/maxSlots/);
  });

  it("builds the namespace exec prefix and the QEMU TAP arguments", () => {
    expect(netnsExecPrefix(7)).toEqual(["ip", "netns", "exec", "wrenn-ns-7"]);
    expect(qemuNetdevArgs()).toEqual([
      "-netdev",
      "tap,id=n0,ifname=tap0,script=no,downscript=no",
      "-device",
      `virtio-net-device,netdev=n0,mac=${GUEST_MAC}`,
    ]);
  });
});
