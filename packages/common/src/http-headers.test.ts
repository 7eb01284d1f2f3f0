import { describe, expect, it } from "vitest";
import { endToEndHeaders } from "./http-headers.ts";

describe("endToEndHeaders", () => {
  it("drops hop-by-hop headers, the ones Connection names, and HTTP/2 pseudo-headers", () => {
    const out = endToEndHeaders({
      connection: "keep-alive, X-Hop",
      "keep-alive": "timeout=5",
      "x-hop": "1",
      "transfer-encoding": "chunked",
      upgrade: "websocket",
      ":path": "/x",
      "content-type": "text/plain",
      "x-custom": ["a", "b"],
    });
    expect(out).toEqual({ "content-type": "text/plain", "x-custom": ["a", "b"] });
  });
});
