import { describe, expect, it } from "vitest";
import { isValidPort, portUrl, ticketUrl } from "./ports.ts";

describe("portUrl", () => {
  it("uses the dashboard's host as the proxy domain, with its scheme and port", () => {
    expect(portUrl(3000, "sb-1", { protocol: "http:", hostname: "localhost", port: "8080" })).toBe(
      "http://3000-sb-1.localhost:8080/",
    );
    expect(portUrl(80, "sb-1", { protocol: "https:", hostname: "wrenn.example.com", port: "" })).toBe(
      "https://80-sb-1.wrenn.example.com/",
    );
  });
  it("falls back to localhost for an IP address (no sub-domains)", () => {
    expect(portUrl(8000, "sb-2", { protocol: "http:", hostname: "127.0.0.1", port: "8080" })).toBe(
      "http://8000-sb-2.localhost:8080/",
    );
  });
  it("validates ports", () => {
    expect(["1", "65535", "3000"].every(isValidPort)).toBe(true);
    expect(["0", "65536", "abc", "", "30 00"].some(isValidPort)).toBe(false);
  });
});

describe("ticketUrl", () => {
  it("adds the ticket as the proxy's query parameter, keeping the address", () => {
    expect(ticketUrl("http://3000-sb-1.localhost:8080/", "wpt_a-b_c")).toBe(
      "http://3000-sb-1.localhost:8080/?wrenn_port_ticket=wpt_a-b_c",
    );
    expect(ticketUrl("https://80-sb-1.wrenn.example.com/app?x=1", "wpt_z", "p")).toBe(
      "https://80-sb-1.wrenn.example.com/app?x=1&p=wpt_z",
    );
  });
});
