import { describe, expect, it } from "vitest";
import { decodeClaims, isExpired, type SessionStorageLike, SessionStore, safeRedirect } from "./session.ts";

function memoryStorage(): SessionStorageLike & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (claims: object) => `${b64url({ alg: "HS256" })}.${b64url(claims)}.sig`;

describe("JWT claims", () => {
  it("decodes the payload of a base64url token, and rejects garbage", () => {
    expect(decodeClaims(jwt({ exp: 123, sub: "usr-1", team_id: "team-ä" }))).toEqual({
      exp: 123,
      sub: "usr-1",
      team_id: "team-ä",
    });
    expect(decodeClaims("not-a-jwt")).toBeUndefined();
    expect(decodeClaims("a.!!!.c")).toBeUndefined();
  });

  it("treats a token as expired a few seconds before exp (clock skew) and a malformed one as expired", () => {
    const now = 1_000_000_000_000;
    expect(isExpired(jwt({ exp: now / 1000 + 60 }), now)).toBe(false);
    expect(isExpired(jwt({ exp: now / 1000 + 3 }), now)).toBe(true);
    expect(isExpired(jwt({ exp: now / 1000 - 1 }), now)).toBe(true);
    expect(isExpired(jwt({ sub: "no-exp" }), now)).toBe(false);
    expect(isExpired("garbage", now)).toBe(true);
  });
});

describe("SessionStore", () => {
  it("keeps the token across instances (a reload) and tells subscribers about sign-in and sign-out", () => {
    const storage = memoryStorage();
    const now = 1_700_000_000_000;
    const token = jwt({ exp: now / 1000 + 3600 });
    const a = new SessionStore(storage, () => now);
    const seen: (string | undefined)[] = [];
    const off = a.subscribe((t) => seen.push(t));
    a.signIn(token);
    expect(new SessionStore(storage, () => now).token()).toBe(token);
    a.signOut();
    a.signOut(); // a second sign-out (two 401s racing) announces nothing new
    off();
    a.signIn(token);
    expect(seen).toEqual([token, undefined]);
  });

  it("drops an expired token instead of returning it, and announces the sign-out", () => {
    const storage = memoryStorage();
    let now = 1_700_000_000_000;
    const s = new SessionStore(storage, () => now);
    s.signIn(jwt({ exp: now / 1000 + 60 }));
    const seen: (string | undefined)[] = [];
    s.subscribe((t) => seen.push(t));
    expect(s.token()).toBeDefined();
    now += 61_000;
    expect(s.token()).toBeUndefined();
    expect(storage.map.size).toBe(0);
    expect(seen).toEqual([undefined]);
  });
});

describe("safeRedirect", () => {
  it("allows only this app's own paths", () => {
    expect(safeRedirect("/capsules/sb-1?tab=files")).toBe("/capsules/sb-1?tab=files");
    expect(safeRedirect(undefined)).toBe("/capsules");
    expect(safeRedirect("https://evil.example/")).toBe("/capsules");
    expect(safeRedirect("//evil.example/")).toBe("/capsules");
    expect(safeRedirect("/\\evil.example")).toBe("/capsules");
    expect(safeRedirect("/login?redirect=/x")).toBe("/capsules");
  });
});
