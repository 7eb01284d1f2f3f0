import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerEnvdSuite } from "./suite.ts";
import { type BootedGuest, bootGuest } from "./testing/qemu-guest.ts";
import { collect, type EnvdTarget, envdClients } from "./testing/target.ts";

/**
 * The envd suite against envd inside a real microVM booted from the guest
 * image (QEMU microvm, TCG). Fails when the image or QEMU is missing.
 */
describe("envd in a microVM", () => {
  let guest: BootedGuest;
  let target: EnvdTarget;

  /** Runs a root shell command in the guest through envd (valid before and after /init). */
  const guestShell = async (script: string, token?: string) => {
    const { process } = envdClients(
      { target, accessToken: token ?? "" },
      { user: "root", token: token ?? null },
    );
    return collect(process.start({ process: { cmd: "/bin/sh", args: ["-c", script] } }));
  };

  beforeAll(async () => {
    guest = await bootGuest();
    target = {
      baseUrl: guest.envdUrl,
      scratchDir: "/var/tmp/envd-suite",
      userHome: "/home/user",
      forwardedPort: { guestPort: guest.guestPort, url: guest.forwardedUrl },
      clockSync: true,
      async envdRssKb(accessToken) {
        const run = await guestShell("ps -o rss= -p $(pgrep -o -f 'envd[.]mjs')", accessToken);
        return Number(run.stdout.trim());
      },
    };
  });

  afterAll(async () => {
    await guest?.stop();
  });

  it("boots, answers /health and reports start time and idle RSS", async () => {
    expect((await fetch(`${guest.envdUrl}/health`)).status).toBe(204);
    const log = await guest.serialLog();
    expect(log).toContain("envd listening");
    const bootEnvd = /"startupMs":(\d+),"readyMs":(\d+)/.exec(log);
    // A second envd from the same bundle inside the (now idle) guest; it logs, in ms since its
    // process started, when its port opened (/health answers) and when every service was loaded.
    const second = await guestShell(
      [
        "/usr/local/bin/node /usr/local/lib/envd/envd.mjs --port 49990 --host 127.0.0.1 --no-clock-sync --port-scan-interval-ms 0 >/tmp/envd-second.log 2>&1 &",
        "pid=$!",
        "for i in $(seq 300); do grep -q listening /tmp/envd-second.log && break; sleep 0.1; done",
        "kill $pid; cat /tmp/envd-second.log",
      ].join("\n"),
    );
    const measured = /"startupMs":(\d+),"readyMs":(\d+)/.exec(second.stdout);
    const startMs = Number(measured?.[1]);
    const readyMs = Number(measured?.[2]);
    const idleRss = await target.envdRssKb();
    console.log(
      `[envd metrics] VM (TCG): QEMU start to envd /health ${guest.bootToHealthMs.toFixed(0)} ms; envd at boot: port open ${bootEnvd?.[1]} ms, ready ${bootEnvd?.[2]} ms; envd started again in the idle guest: port open ${startMs} ms, ready ${readyMs} ms (since its process started); idle RSS ${idleRss} KiB`,
    );
    expect(startMs).toBeGreaterThan(0);
    expect(startMs).toBeLessThan(1000);
    expect(readyMs).toBeGreaterThanOrEqual(startMs);
    expect(idleRss).toBeGreaterThan(0);
  });

  registerEnvdSuite(() => target);
});
