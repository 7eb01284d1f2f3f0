import { describe, expect, it } from "vitest";
import { hostTab, matchesQuery, parseHostsSearch } from "./search.ts";

describe("admin list helpers", () => {
  it("keeps the hosts tab in the URL, platform by default", () => {
    expect(parseHostsSearch({ tab: "byoc" })).toEqual({ tab: "byoc" });
    expect(parseHostsSearch({ tab: "other" })).toEqual({ tab: "platform" });
    expect(parseHostsSearch({})).toEqual({ tab: "platform" });
    expect(hostTab({ type: "regular" })).toBe("platform");
    expect(hostTab({ type: "byoc" })).toBe("byoc");
  });

  it("matches every word of a query across fields, ignoring case", () => {
    expect(matchesQuery(["Acme Corp", "acme-1"], "")).toBe(true);
    expect(matchesQuery(["Acme Corp", "ada@acme.io"], "ACME ada")).toBe(true);
    expect(matchesQuery(["Acme Corp", null], "acme bob")).toBe(false);
  });
});
