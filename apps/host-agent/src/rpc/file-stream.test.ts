import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Code, ConnectError } from "@connectrpc/connect";
import { isWrennError } from "@wrenn/common";
import type { hostagent } from "@wrenn/proto";
// envd's own host harness (the bundled envd as a child process): the real peer of these functions.
import { type HostEnvd, startHostEnvd } from "@wrenn/testing/host-envd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvdClient } from "../envd-client/client.ts";
import {
  readFileStream,
  splitWriteStream,
  UPLOAD_TEMP_MARKER,
  uploadTempPath,
  writeFileStream,
} from "./file-stream.ts";

let envd: HostEnvd;
let client: EnvdClient;
let home = "";

beforeAll(async () => {
  envd = await startHostEnvd();
  const url = new URL(envd.target.baseUrl);
  client = new EnvdClient(url.hostname, Number(url.port), undefined);
  home = envd.target.userHome;
});

afterAll(async () => {
  await envd?.stop();
});

async function* pieces(content: Buffer, size: number, failAfter?: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < content.length; at += size) {
    if (failAfter !== undefined && at >= failAfter) throw new ConnectError("client went away", Code.Canceled);
    yield content.subarray(at, at + size);
  }
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.includes(UPLOAD_TEMP_MARKER));
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("uploadTempPath", () => {
  it("names a hidden file in the target's directory", () => {
    expect(uploadTempPath("/home/user/a.txt")).toMatch(/^\/home\/user\/\.a\.txt\.wrenn-upload-[0-9a-f]{12}$/);
    expect(uploadTempPath("rel/b")).toMatch(/^rel\/\.b\.wrenn-upload-/);
    expect(uploadTempPath("c")).toMatch(/^\.c\.wrenn-upload-/);
    expect(uploadTempPath("~/d")).toMatch(/^~\/\.d\.wrenn-upload-/);
    expect(
      uploadTempPath(`/x/${"n".repeat(255)}`)
        .split("/")
        .pop()?.length,
    ).toBeLessThanOrEqual(255);
  });

  it("refuses paths that do not name a file", () => {
    for (const bad of ["/home/user/", "~", "/a/..", "."]) {
      expect(() => uploadTempPath(bad), bad).toThrow(/must name a file/);
    }
  });
});

describe("streaming files through a real envd", () => {
  it("writes a file chunk by chunk and reads it back in bounded chunks", async () => {
    const content = randomBytes(12 * 1024 * 1024 + 123);
    const path = join(home, "up/big.bin");
    const entry = await writeFileStream(client, path, "user", pieces(content, 300_000));
    expect(entry).toMatchObject({ path, name: "big.bin", sizeBytes: BigInt(content.length) });
    expect(sha(await readFile(path))).toBe(sha(content));
    expect(await tempFiles(join(home, "up"))).toEqual([]);

    const hash = createHash("sha256");
    let largest = 0;
    let total = 0;
    for await (const chunk of readFileStream(client, path, "user", 100_000)) {
      largest = Math.max(largest, chunk.length);
      total += chunk.length;
      hash.update(chunk);
    }
    expect(total).toBe(content.length);
    expect(largest).toBeLessThanOrEqual(100_000);
    expect(hash.digest("hex")).toBe(sha(content));
  });

  it("moves 100 MB each way holding a bounded amount of it (peak RSS)", async () => {
    // Young-generation collections every 20 ms keep dead chunks from counting as held.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as (o: { type: "minor" }) => void;
    const peak = () =>
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) * 1024;
    const size = 100 * 1024 * 1024;
    const piece = randomBytes(256 * 1024);
    async function* generated(): AsyncGenerator<Uint8Array> {
      // A fresh buffer per chunk, as from a socket: anything that keeps chunks keeps the file.
      for (let at = 0; at < size; at += piece.length) yield Buffer.from(piece);
    }
    const path = join(home, "hundred.bin");
    const timer = setInterval(() => gc({ type: "minor" }), 20);
    try {
      writeFileSync("/proc/self/clear_refs", "5");
      let before = peak();
      // A live signal, so the abort-aware path is the one measured.
      await writeFileStream(client, path, "user", generated(), new AbortController().signal);
      const up = peak() - before;
      expect((await stat(path)).size).toBe(size);
      writeFileSync("/proc/self/clear_refs", "5");
      before = peak();
      let total = 0;
      for await (const chunk of readFileStream(client, path, "user", 0, new AbortController().signal)) {
        total += chunk.length;
      }
      const down = peak() - before;
      expect(total).toBe(size);
      expect(up).toBeLessThan(40 * 1024 * 1024);
      expect(down).toBeLessThan(40 * 1024 * 1024);
    } finally {
      clearInterval(timer);
    }
  });

  it("keeps the old file and removes the partial one when the upload breaks off", async () => {
    const path = join(home, "keep.txt");
    await writeFile(path, "old\n");
    const content = randomBytes(8 * 1024 * 1024);
    const failed = writeFileStream(client, path, "user", pieces(content, 256 * 1024, 4 * 1024 * 1024));
    await expect(failed).rejects.toThrow(/client went away/);
    expect(await readFile(path, "utf8")).toBe("old\n");
    expect(await tempFiles(home)).toEqual([]);
  });

  it("keeps the old file when the caller aborts", async () => {
    const path = join(home, "keep2.txt");
    await writeFile(path, "old\n");
    const abort = new AbortController();
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield randomBytes(1024 * 1024);
      abort.abort();
      await new Promise((r) => setTimeout(r, 200));
      yield randomBytes(1024 * 1024);
    }
    await expect(writeFileStream(client, path, "user", slow(), abort.signal)).rejects.toThrow();
    expect(await readFile(path, "utf8")).toBe("old\n");
    expect(await tempFiles(home)).toEqual([]);
  });

  it("fails cleanly when the target is a directory", async () => {
    await mkdir(join(home, "adir"), { recursive: true });
    await expect(
      writeFileStream(client, join(home, "adir"), "user", pieces(randomBytes(1000), 100)),
    ).rejects.toBeInstanceOf(Error);
    expect(await tempFiles(home)).toEqual([]);
  });

  it("maps envd's answer for a missing file to not_found", async () => {
    const read = async () => {
      for await (const _ of readFileStream(client, join(home, "missing.bin"), "user", 0)) {
        // never reached
      }
    };
    const err = await read().catch((e) => e);
    expect(ConnectError.from(err).code).toBe(Code.NotFound);
  });
});

describe("splitWriteStream", () => {
  const meta = (): hostagent.StreamWriteFileRequest =>
    ({ payload: { case: "metadata", value: { sandboxId: "s", path: "/p", user: "" } } }) as never;
  const chunk = (b: string): hostagent.StreamWriteFileRequest =>
    ({ payload: { case: "chunk", value: Buffer.from(b) } }) as never;
  async function* of(...msgs: hostagent.StreamWriteFileRequest[]) {
    yield* msgs;
  }

  it("answers the metadata and then the chunks", async () => {
    const { meta: m, chunks } = await splitWriteStream(of(meta(), chunk("a"), chunk("b")));
    expect(m.path).toBe("/p");
    const got: string[] = [];
    for await (const c of chunks) got.push(Buffer.from(c).toString());
    expect(got).toEqual(["a", "b"]);
  });

  it("refuses a stream without leading metadata, or with metadata twice", async () => {
    const first = await splitWriteStream(of(chunk("a"))).catch((e) => e);
    expect(isWrennError(first) && first.code).toBe("invalid_argument");
    const { chunks } = await splitWriteStream(of(meta(), chunk("a"), meta()));
    const twice = await (async () => {
      for await (const _ of chunks) {
        // drain
      }
    })().catch((e) => e);
    expect(isWrennError(twice) && twice.message).toMatch(/exactly once/);
  });
});
