import { describe, expect, it } from "vitest";
import { tokenFromHash, validateCredentials } from "./credentials.ts";

describe("validateCredentials", () => {
  it("checks name, email and password length on sign-up", () => {
    expect(validateCredentials({ name: " ", email: "nope", password: "short" }, true)).toEqual({
      name: "Enter your name.",
      email: "Enter a valid email address.",
      password: "Use at least 8 characters.",
    });
    expect(
      validateCredentials({ name: "Ada", email: "ada@example.com", password: "longenough" }, true),
    ).toEqual({});
  });
  it("on sign-in only asks for something in each field", () => {
    expect(validateCredentials({ email: "ada@example.com", password: "" }, false)).toEqual({
      password: "Enter your password.",
    });
    expect(validateCredentials({ email: "ada@example.com", password: "x" }, false)).toEqual({});
  });
});

describe("tokenFromHash", () => {
  it("reads the token the OAuth callback puts in the fragment", () => {
    expect(tokenFromHash("#token=abc.def.ghi")).toBe("abc.def.ghi");
    expect(tokenFromHash("#token=a%2Bb")).toBe("a+b");
    expect(tokenFromHash("")).toBeUndefined();
  });
});
