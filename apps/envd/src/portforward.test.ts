import { describe, expect, it } from "vitest";
import { parseProcNetTcp } from "./portforward.ts";

describe("parseProcNetTcp", () => {
  it("finds listeners and tells loopback from wildcard ones", () => {
    const tcp = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1",
      "   1: 00000000:C2CF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1",
      "   2: 0100007F:1F90 0100007F:D2B4 01 00000000:00000000 00:00000000 00000000     0        0 3 1",
      "   3: 1500FEA9:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1",
    ].join("\n");
    expect(parseProcNetTcp(tcp)).toEqual([
      { port: 8080, loopbackHost: "127.0.0.1", wildcard: false },
      { port: 49871, loopbackHost: undefined, wildcard: true },
      { port: 80, loopbackHost: undefined, wildcard: false },
    ]);
    const tcp6 = [
      "  sl  local_address                         remote_address                        st",
      "   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A",
      "   1: 0000000000000000FFFF00000100007F:0BB9 00000000000000000000000000000000:0000 0A",
    ].join("\n");
    expect(parseProcNetTcp(tcp6)).toEqual([
      { port: 3000, loopbackHost: "::1", wildcard: false },
      { port: 3001, loopbackHost: "127.0.0.1", wildcard: false },
    ]);
  });
});
