import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

describe("password policy", () => {
  it("refuses common, whitespace-only and control-character passwords at signup and change", async () => {
    const signup = (password: string, i: number) =>
      call(t.app, "POST", "/v1/auth/signup", { body: { name: "P", email: `pp${i}@example.com`, password } });
    const refused = [
      "password123",
      "Password1",
      "  12345678 ",
      "        ",
      "\t\t\t\t\t\t\t\t",
      "abc\u0007defgh",
    ];
    for (const [i, password] of refused.entries()) {
      const res = await signup(password, i);
      expect(res.status, password).toBe(400);
      expect(res.body.message).toMatch(/^password: /);
    }
    expect((await signup("a long unusual passphrase", 99)).status).toBe(201);
    const u = await signupUser(t.app);
    const change = await call(t.app, "POST", "/v1/auth/password", {
      token: u.token,
      body: { current_password: u.password, new_password: "qwertyuiop" },
    });
    expect(change.status).toBe(400);
    expect(change.body.message).toMatch(/^new_password: .*common/);
  });
});
