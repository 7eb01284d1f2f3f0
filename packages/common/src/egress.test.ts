import { describe, expect, it } from "vitest";
import { checkEgressPolicy, domainMatches, isOpenEgress, OPEN_EGRESS, parseEgressEntry } from "./egress.ts";
import { WrennError } from "./errors.ts";

describe("parseEgressEntry", () => {
  it.each([
    ["8.8.8.8", { kind: "cidr", cidr: "8.8.8.8/32" }],
    ["10.1.2.3/8", { kind: "cidr", cidr: "10.0.0.0/8" }],
    ["0.0.0.0/0", { kind: "cidr", cidr: "0.0.0.0/0" }],
    ["1.2.3.0/24:443", { kind: "cidr", cidr: "1.2.3.0/24", ports: [443, 443] }],
    ["1.2.3.4:1-1024", { kind: "cidr", cidr: "1.2.3.4/32", ports: [1, 1024] }],
    ["1.2.3.4:", { kind: "cidr", cidr: "1.2.3.4/32" }],
    [" Example.COM ", { kind: "domain", pattern: "example.com" }],
    ["*.example.com:443", { kind: "domain", pattern: "*.example.com", ports: [443, 443] }],
    ["*", { kind: "domain", pattern: "*" }],
    ["::/0", { kind: "ipv6", host: "::/0" }],
    ["[2001:db8::1]:80", { kind: "ipv6", host: "2001:db8::1", ports: [80, 80] }],
  ])("parses %j", (entry, rule) => {
    expect(parseEgressEntry(entry, "allow_out")).toEqual(rule);
  });

  it.each([
    ["", /empty/],
    ["1.2.3.4/33", /invalid CIDR/],
    ["300.1.1.1", /invalid CIDR/],
    ["1.2.3", /invalid CIDR/],
    ["exa mple.com", /invalid domain/],
    ["-bad.com", /invalid domain/],
    ["a.*.com", /invalid domain/],
    ["1.2.3.4:0", /invalid port/],
    ["1.2.3.4:9-2", /invalid port/],
    ["x.com:70000", /invalid port/],
  ])("refuses %j naming the field", (entry, message) => {
    expect(() => parseEgressEntry(entry, "network.allowOut")).toThrow(WrennError);
    expect(() => parseEgressEntry(entry, "network.allowOut")).toThrow(message);
    expect(() => parseEgressEntry(entry, "network.allowOut")).toThrow(/^network\.allowOut: /);
  });
});

describe("checkEgressPolicy", () => {
  it("canonicalizes and drops duplicates", () => {
    expect(
      checkEgressPolicy({ allowInternet: true, allowOut: ["1.2.3.4", " 1.2.3.4"], denyOut: ["10.0.0.0/8"] }),
    ).toEqual({ allowInternet: true, allowOut: ["1.2.3.4"], denyOut: ["10.0.0.0/8"] });
  });

  it("refuses domains in the deny list, naming the field", () => {
    expect(() =>
      checkEgressPolicy(
        { allowInternet: true, allowOut: [], denyOut: ["evil.com"] },
        { allowOut: "network.allowOut", denyOut: "network.denyOut" },
      ),
    ).toThrow(/^network\.denyOut: domain names are not supported/);
  });

  it("needs everything else denied before a domain can be allowed (E2B's rule)", () => {
    expect(() => checkEgressPolicy({ allowInternet: true, allowOut: ["a.com"], denyOut: [] })).toThrow(
      /allow_out: allowing domains needs all other traffic denied/,
    );
    expect(
      checkEgressPolicy({ allowInternet: true, allowOut: ["a.com"], denyOut: ["0.0.0.0/0"] }).allowOut,
    ).toEqual(["a.com"]);
    expect(checkEgressPolicy({ allowInternet: false, allowOut: ["a.com"], denyOut: [] }).allowInternet).toBe(
      false,
    );
  });

  it("knows the open policy", () => {
    expect(isOpenEgress(OPEN_EGRESS)).toBe(true);
    expect(isOpenEgress({ ...OPEN_EGRESS, allowInternet: false })).toBe(false);
  });
});

describe("domainMatches", () => {
  it.each([
    ["example.com", "example.com", true],
    ["example.com", "EXAMPLE.com.", true],
    ["example.com", "api.example.com", false],
    ["*.example.com", "api.example.com", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "example.com", false],
    ["*.example.com", "badexample.com", false],
    ["*", "anything.org", true],
  ])("%s vs %s → %s", (pattern, name, expected) => {
    expect(domainMatches(pattern, name)).toBe(expected);
  });
});
