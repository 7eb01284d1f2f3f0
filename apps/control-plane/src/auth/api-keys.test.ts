import { describe, expect, it } from "vitest";
import { canonicalApiKey, e2bFormOfApiKey, generateApiKey, hashApiKey } from "./api-keys.ts";

describe("API key forms", () => {
  it("gives every key an e2b_<hex> form that the e2b SDK accepts and that maps back to the key", () => {
    for (let i = 0; i < 50; i++) {
      const key = generateApiKey();
      const e2b = e2bFormOfApiKey(key);
      expect(e2b).toMatch(/^e2b_[0-9a-f]{64}$/);
      expect(canonicalApiKey(e2b)).toBe(key);
      expect(hashApiKey(canonicalApiKey(e2b) as string)).toBe(hashApiKey(key));
      expect(canonicalApiKey(key)).toBe(key);
    }
  });

  it("recognises neither form in anything else", () => {
    for (const bad of ["", "e2b_", "e2b_abc", `e2b_${"A".repeat(64)}`, `e2b_${"0".repeat(66)}`, "sk_x"]) {
      expect(canonicalApiKey(bad), bad).toBeUndefined();
    }
  });
});
