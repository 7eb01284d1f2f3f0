import { describe, expect, it } from "vitest";
import { capacityText, daysUntil } from "./hosts.tsx";

describe("host display helpers", () => {
  it("writes capacity, or a dash before the host has reported it", () => {
    expect(capacityText({ cpu_count: 4, memory_mb: 16384, disk_gb: 200 })).toBe("4 vCPU · 16 GiB · 200 GB");
    expect(capacityText({ cpu_count: 2, memory_mb: 512, disk_gb: 10 })).toBe("2 vCPU · 512 MiB · 10 GB");
    expect(capacityText({ cpu_count: 0, memory_mb: 0, disk_gb: 0 })).toBe("—");
  });

  it("counts whole days to a certificate's expiry", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(daysUntil("2026-01-08T00:00:00Z", now)).toBe(7);
    expect(daysUntil("2025-12-31T12:00:00Z", now)).toBe(-1);
    expect(daysUntil(null, now)).toBeNull();
    expect(daysUntil("soon", now)).toBeNull();
  });
});
