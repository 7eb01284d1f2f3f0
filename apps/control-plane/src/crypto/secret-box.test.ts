import { describe, expect, it } from "vitest";
import { generateEncryptionKey, parseEncryptionKey, SecretBox, SecretBoxError } from "./secret-box.ts";

describe("SecretBox", () => {
  it("round-trips, and the ciphertext neither contains the plaintext nor repeats", () => {
    const box = SecretBox.fromSettings(generateEncryptionKey());
    const a = box.sealJson({ token: "hunter2-hunter2" }, "channel:1");
    const b = box.sealJson({ token: "hunter2-hunter2" }, "channel:1");
    expect(a.toString("latin1")).not.toContain("hunter2");
    expect(a.equals(b)).toBe(false);
    expect(box.openJson(a, "channel:1")).toEqual({ token: "hunter2-hunter2" });
  });

  it("refuses a tampered ciphertext, another context and another key", () => {
    const key = generateEncryptionKey();
    const box = SecretBox.fromSettings(key);
    const sealed = box.seal("secret", "channel:1");
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    expect(() => box.open(flipped, "channel:1")).toThrow(SecretBoxError);
    expect(() => box.open(sealed, "channel:2")).toThrow(/another context/);
    expect(() => SecretBox.fromSettings(generateEncryptionKey()).open(sealed, "channel:1")).toThrow(
      /unknown key/,
    );
  });

  it("rotates: a previous key still opens, new seals use the current key and old ones are stale", () => {
    const oldKey = generateEncryptionKey();
    const newKey = generateEncryptionKey();
    const sealedOld = SecretBox.fromSettings(oldKey).seal("v", "c");
    const rotated = SecretBox.fromSettings(newKey, ` ${oldKey} ,`);
    expect(rotated.open(sealedOld, "c").toString()).toBe("v");
    expect(rotated.isStale(sealedOld)).toBe(true);
    const resealed = rotated.seal("v", "c");
    expect(rotated.isStale(resealed)).toBe(false);
    expect(() => SecretBox.fromSettings(oldKey).open(resealed, "c")).toThrow(SecretBoxError);
  });

  it("reads hex and base64 keys and rejects anything that is not 32 bytes", () => {
    const hex = generateEncryptionKey();
    expect(parseEncryptionKey(hex).length).toBe(32);
    expect(
      parseEncryptionKey(Buffer.from(hex, "hex").toString("base64")).equals(Buffer.from(hex, "hex")),
    ).toBe(true);
    for (const bad of ["", "short", "00".repeat(31), "not base64 at all!!"]) {
      expect(() => parseEncryptionKey(bad)).toThrow(/32 bytes/);
    }
  });
});
