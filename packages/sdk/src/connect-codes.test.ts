import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect";
import { errorCodeByConnectCode } from "@wrenn/common/connect-codes";
import { expect, test } from "vitest";
import { connectCodeName, errorCodeOfConnectName, isConnectError } from "./connect-codes.ts";

const codes = Object.values(Code).filter((c): c is Code => typeof c === "number");

test("every Connect code has its wire name and the catalogue's Wrenn code", () => {
  expect(codes).toHaveLength(16);
  for (const code of codes) {
    const name = connectCodeName(code);
    expect(name).toBe(codeToString(code));
    expect(codeFromString(name ?? "")).toBe(code);
    expect(errorCodeOfConnectName(name ?? "")).toBe(errorCodeByConnectCode[code]);
  }
  expect(connectCodeName(0)).toBeUndefined();
  expect(connectCodeName(17)).toBeUndefined();
  expect(errorCodeOfConnectName("NotFound")).toBeUndefined();
  expect(errorCodeOfConnectName("toString")).toBeUndefined();
});

test("isConnectError answers as ConnectError's instanceof does", () => {
  const samples: unknown[] = [
    new ConnectError("boom", Code.NotFound),
    ConnectError.from(new Error("wrapped")),
    Object.assign(new Error("look-alike"), {
      name: "ConnectError",
      code: 5,
      metadata: new Headers(),
      details: [],
      rawMessage: "look-alike",
      cause: undefined,
    }),
    new Error("plain"),
    Object.assign(new Error("no details"), { name: "ConnectError", code: 5, rawMessage: "x" }),
    { name: "ConnectError", code: 5, metadata: {}, details: [], rawMessage: "", cause: undefined },
    "ConnectError",
    undefined,
  ];
  expect(samples.map(isConnectError)).toEqual(samples.map((s) => s instanceof ConnectError));
  expect(samples.map(isConnectError)).toEqual([true, true, true, false, false, false, false, false]);
});
