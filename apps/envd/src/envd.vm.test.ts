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
    const inGuestStartup = /"startupMs":(\d+)/.exec(log)?.[1];
    // A second envd started from the same bundle inside the guest: node start to first /health answer.
    const measured = await guestShell(
      [
        "python3 - <<'PY'",
        "import subprocess, time, urllib.request",
        "t = time.monotonic()",
        "p = subprocess.Popen(['/usr/local/bin/node', '/usr/local/lib/envd/envd.mjs', '--port', '49990', '--host', '127.0.0.1', '--no-clock-sync', '--port-scan-interval-ms', '0'], stdout=subprocess.DEVNULL)",
        "while True:",
        "    try:",
        "        if urllib.request.urlopen('http://127.0.0.1:49990/health').status == 204: break",
        "    except Exception: time.sleep(0.01)",
        "print(round((time.monotonic() - t) * 1000))",
        "p.terminate(); p.wait()",
        "PY",
      ].join("\n"),
    );
    const startMs = Number(measured.stdout.trim());
    const idleRss = await target.envdRssKb();
    console.log(
      `[envd metrics] VM (TCG): QEMU start to envd /health ${guest.bootToHealthMs.toFixed(0)} ms; envd process start to /health ${startMs} ms (in-process init ${inGuestStartup} ms); idle RSS ${idleRss} KiB`,
    );
    expect(startMs).toBeGreaterThan(0);
    expect(startMs).toBeLessThan(1000);
    expect(idleRss).toBeGreaterThan(0);
  });

  registerEnvdSuite(() => target);
});
