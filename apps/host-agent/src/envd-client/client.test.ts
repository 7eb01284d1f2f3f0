import { createServer } from "node:net";
import { isWrennError } from "@wrenn/common";
import { describe, expect, it } from "vitest";
import { EnvdClient } from "./client.ts";

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("EnvdClient.waitHealthy", () => {
  it("fails with coded errors: envd never answering and a VM gone are internal (the host is fine: not 'unavailable')", async () => {
    // Nothing listens on a fresh free port: the same as a guest whose envd never came up.
    const client = new EnvdClient("127.0.0.1", await closedPort(), undefined);
    const silent = await client.waitHealthy(300).catch((e: unknown) => e);
    expect(isWrennError(silent)).toBe(true);
    expect(silent).toMatchObject({ code: "internal", message: "envd did not answer within 300 ms" });

    const dead = await client.waitHealthy(5_000, () => false).catch((e: unknown) => e);
    expect(dead).toMatchObject({ code: "internal", message: "the VM exited before envd answered" });
  });
});
