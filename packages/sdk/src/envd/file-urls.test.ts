import { fileSignature as envdSignature } from "@wrenn/envd";
import { describe, expect, it } from "vitest";
import { FailedPreconditionError, InvalidArgumentError } from "../errors.ts";
import { fileSignature, signedFileUrl } from "./file-urls.ts";
import { EnvdConnection } from "./transport.ts";

const target = {
  protocol: "https:",
  envdHost: "49983-sb-1.wrenn.example",
  accessToken: "tok-secret",
};

describe("fileSignature", () => {
  it("is envd's signature, with and without an expiry", async () => {
    for (const [path, op, user, expiry] of [
      ["/home/user/a b.txt", "read", "user", undefined],
      ["relative/ü.bin", "write", "", 1_900_000_000],
      ["/x", "read", "root", 1],
    ] as const) {
      expect(await fileSignature(path, op, user, "tok-secret", expiry)).toBe(
        envdSignature(path, op, user, "tok-secret", expiry),
      );
    }
  });
});

describe("signedFileUrl", () => {
  it("names path, user, signature and expiry on the envd proxy host", async () => {
    const url = new URL(
      await signedFileUrl(
        target,
        "/home/user/r.pdf",
        "read",
        { user: "root", useSignatureExpiration: 60 },
        () => Date.UTC(2030, 0, 1),
      ),
    );
    expect(url.origin).toBe("https://49983-sb-1.wrenn.example");
    expect(url.pathname).toBe("/files");
    const expiry = Date.UTC(2030, 0, 1) / 1000 + 60;
    expect(Object.fromEntries(url.searchParams)).toEqual({
      path: "/home/user/r.pdf",
      username: "root",
      signature: envdSignature("/home/user/r.pdf", "read", "root", "tok-secret", expiry),
      signature_expiration: String(expiry),
    });
  });

  it("without a user or an expiry, signs for envd's default user and never expires", async () => {
    const url = new URL(await signedFileUrl(target, "up.txt", "write", {}));
    expect([...url.searchParams.keys()]).toEqual(["path", "signature"]);
    expect(url.searchParams.get("signature")).toBe(envdSignature("up.txt", "write", "", "tok-secret"));
  });

  it("refuses a missing token, an empty path and a bad expiry", async () => {
    await expect(
      signedFileUrl({ ...target, accessToken: undefined }, "/a", "read", {}),
    ).rejects.toBeInstanceOf(FailedPreconditionError);
    await expect(signedFileUrl(target, "", "read", {})).rejects.toBeInstanceOf(InvalidArgumentError);
    for (const bad of [0, -5, 1.5, Number.NaN]) {
      await expect(
        signedFileUrl(target, "/a", "read", { useSignatureExpiration: bad }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });

  it("EnvdConnection points at {49983}-{sandboxId}.{domain}, the API host by default", () => {
    const conn = new EnvdConnection({ apiUrl: "http://cp.local:9000", sandboxId: "sb-9", accessToken: "t" });
    expect(conn.fileUrlTarget()).toEqual({
      protocol: "http:",
      envdHost: "49983-sb-9.cp.local:9000",
      accessToken: "t",
    });
    const withDomain = new EnvdConnection({ apiUrl: "https://api.x", sandboxId: "sb-9", domain: "sbx.x" });
    expect(withDomain.fileUrlTarget().envdHost).toBe("49983-sb-9.sbx.x");
  });
});
