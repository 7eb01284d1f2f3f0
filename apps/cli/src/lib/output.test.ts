import { describe, expect, it } from "vitest";
import { ago, bytes, details, json, keyValueList, printable, table } from "./output.ts";

describe("table", () => {
  it("aligns columns two spaces apart without trailing spaces", () => {
    const rows = [
      { id: "sb-1", state: "running", n: 1 },
      { id: "sb-long-id", state: "paused", n: 12 },
    ];
    const out = table(rows, [
      { header: "ID", value: (r) => r.id },
      { header: "VCPUS", value: (r) => String(r.n), right: true },
      { header: "STATE", value: (r) => r.state },
    ]);
    expect(out.split("\n")).toEqual([
      "ID          VCPUS  STATE",
      "sb-1            1  running",
      "sb-long-id     12  paused",
    ]);
  });

  it("prints just the header for no rows", () => {
    expect(table([], [{ header: "ID", value: () => "" }])).toBe("ID");
  });

  it("neutralizes control characters from remote values", () => {
    expect(printable("a\x1b[2Jb\nc")).toBe("a?[2Jb?c");
    expect(table([{ v: "\x1b]0;x\x07" }], [{ header: "V", value: (r) => r.v }])).toBe("V\n?]0;x?");
  });
});

describe("formatters", () => {
  it("details aligns keys", () => {
    expect(
      details([
        ["ID", "sb-1"],
        ["Template", "minimal"],
      ]),
    ).toBe("ID:       sb-1\nTemplate: minimal");
  });

  it("json is indented with a trailing newline", () => {
    expect(json({ a: 1 })).toBe('{\n  "a": 1\n}\n');
  });

  it("ago is relative and tolerant of missing dates", () => {
    const now = new Date("2026-01-01T12:00:00Z");
    expect(ago("2026-01-01T11:59:30Z", now)).toBe("30s ago");
    expect(ago("2026-01-01T11:55:00Z", now)).toBe("5m ago");
    expect(ago("2026-01-01T09:00:00Z", now)).toBe("3h ago");
    expect(ago("2025-12-29T12:00:00Z", now)).toBe("3d ago");
    expect(ago(null, now)).toBe("-");
    expect(ago("not a date", now)).toBe("-");
  });

  it("bytes uses binary units", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(20 * 1024 * 1024)).toBe("20.0 MiB");
  });

  it("keyValueList joins metadata", () => {
    expect(keyValueList({ a: "1", b: "2" })).toBe("a=1,b=2");
    expect(keyValueList({})).toBe("-");
    expect(keyValueList(undefined)).toBe("-");
  });
});
