import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerEnvdSuite } from "./suite.ts";
import { type HostEnvd, startHostEnvd } from "./testing/host-envd.ts";

/**
 * The envd suite against the bundled envd running on this host (as root, in a
 * temp dir with its own accounts): the fast loop for everything the microVM
 * run checks too.
 */
describe("envd on the host", () => {
  let envd: HostEnvd;

  beforeAll(async () => {
    envd = await startHostEnvd();
  });

  afterAll(async () => {
    await envd?.stop();
  });

  it("starts fast and idles small", async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleRss = await envd.target.envdRssKb();
    console.log(
      `[envd metrics] host: start to first /health ${envd.startupMs.toFixed(0)} ms, idle RSS ${idleRss} KiB`,
    );
    expect(envd.startupMs).toBeLessThan(1000);
    expect(idleRss).toBeLessThan(128 * 1024);
  });

  registerEnvdSuite(() => envd.target);
});
