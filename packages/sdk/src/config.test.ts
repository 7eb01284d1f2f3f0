import { expect, test } from "vitest";
import { DEFAULT_API_URL, DEFAULT_REQUEST_TIMEOUT_MS, resolveConfig } from "./config.ts";
import { AuthenticationError, InvalidArgumentError } from "./errors.ts";
import { Sandbox } from "./sandbox.ts";

test("options win over the environment; the URL loses its trailing slash", () => {
  const config = resolveConfig(
    { apiKey: "wrn_opt", apiUrl: "https://api.example.com/", domain: "sb.example.com", requestTimeoutMs: 5 },
    { WRENN_API_KEY: "wrn_env", WRENN_API_URL: "http://other:1", WRENN_DOMAIN: "env.example.com" },
  );
  expect(config).toEqual({
    apiKey: "wrn_opt",
    apiUrl: "https://api.example.com",
    domain: "sb.example.com",
    requestTimeoutMs: 5,
  });
});

test("the environment fills what options leave out; the domain defaults to the API host", () => {
  expect(resolveConfig({}, { WRENN_API_KEY: "wrn_env", WRENN_API_URL: "http://cp.local:9000" })).toEqual({
    apiKey: "wrn_env",
    apiUrl: "http://cp.local:9000",
    domain: "cp.local:9000",
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  });
  expect(resolveConfig({}, { WRENN_API_KEY: "k", WRENN_DOMAIN: "wrenn.dev" })).toMatchObject({
    apiUrl: DEFAULT_API_URL,
    domain: "wrenn.dev",
  });
});

test("a missing key is a clear AuthenticationError naming WRENN_API_KEY", () => {
  expect(() => resolveConfig({}, {})).toThrow(AuthenticationError);
  expect(() => resolveConfig({}, {})).toThrow(/WRENN_API_KEY/);
});

test("a bad URL or timeout is an InvalidArgumentError naming the field", () => {
  expect(() => resolveConfig({ apiKey: "k", apiUrl: "not a url" }, {})).toThrow(InvalidArgumentError);
  expect(() => resolveConfig({ apiKey: "k", apiUrl: "ftp://x" }, {})).toThrow(/apiUrl/);
  expect(() => resolveConfig({ apiKey: "k", requestTimeoutMs: -1 }, {})).toThrow(/requestTimeoutMs/);
});

test("Sandbox.create without a key fails before any request is sent", async () => {
  const saved = process.env.WRENN_API_KEY;
  delete process.env.WRENN_API_KEY;
  try {
    // Port 9 (discard) on loopback: a request would fail with a network error, not this one.
    await expect(Sandbox.create({ apiUrl: "http://127.0.0.1:9" })).rejects.toThrow(AuthenticationError);
  } finally {
    if (saved !== undefined) process.env.WRENN_API_KEY = saved;
  }
});
