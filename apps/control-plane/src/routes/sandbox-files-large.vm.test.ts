import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A 100 MB file up and down through the streaming routes of a real listening
// control plane, its registered in-process host agent and a QEMU guest, over real
// HTTP. The agent and the control plane share this process, so this process's peak
// RSS bounds what either of them held: buffering the file anywhere on the way shows
// up as ≥ 100 MB of growth (a structural check, not a timing one).
//
// The upload's client runs in a child process: Node's fetch reads a ReadableStream
// request body ahead of the socket (measured: +120 MB for 100 MB against a slow
// server, +2.5 MB with node:http), which would be charged to the server otherwise.

const SIZE = 100 * 1024 * 1024;
const CHUNK = 256 * 1024;
/** Half of one copy of the file: any layer that holds the file exceeds it. */
const MAX_PEAK_GROWTH = 50 * 1024 * 1024;
const DIR = "/home/user";

let d: TestDeployment;
let id = "";
const headers = () => ({ "x-api-key": d.apiKey });

// Every hop copies each chunk, and V8 lets tens of MB of dead buffers pile up before
// it collects them (measured: +35 MB for one hop). A young-generation collection every
// 20 ms during a transfer (cheap; the chunks die young) keeps the peak RSS a measure of
// what is held, not of how lazily garbage is collected.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as (options: { type: "minor" }) => void;

/** Calls `fn` while collecting young garbage every 20 ms. */
async function collecting<T>(fn: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => gc({ type: "minor" }), 20);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/** Resets this process's peak RSS (VmHWM) so the next reading covers only what follows. */
function resetPeakRss(): number {
  writeFileSync("/proc/self/clear_refs", "5");
  return peakRss();
}

function peakRss(): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  if (!kb) throw new Error("no VmHWM in /proc/self/status");
  return Number(kb) * 1024;
}

/** The uploading client (argv: url, api key, size, chunk): random bytes, hashed as they are produced. */
const UPLOADER = `
import { createHash, randomBytes } from "node:crypto";
const [url, key, size, chunk] = process.argv.slice(1);
const hash = createHash("sha256");
let produced = 0;
const body = new ReadableStream({
  pull(controller) {
    if (produced >= Number(size)) return controller.close();
    const piece = randomBytes(Math.min(Number(chunk), Number(size) - produced));
    hash.update(piece);
    produced += piece.length;
    controller.enqueue(piece);
  },
});
const res = await fetch(url, {
  method: "POST",
  headers: { "x-api-key": key, "content-type": "application/octet-stream" },
  body,
  duplex: "half",
});
process.stdout.write(JSON.stringify({ status: res.status, body: await res.json(), sha256: hash.digest("hex") }));
`;

/** Streams SIZE random bytes to `url` from a child process; answers the response and the sha256 sent. */
async function uploadFromChild(url: string) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--input-type=module", "-e", UPLOADER, url, d.apiKey, String(SIZE), String(CHUNK)],
    { maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout) as { status: number; body: Record<string, unknown>; sha256: string };
}

async function exec(cmd: string, timeoutSec = 120) {
  const res = await fetch(`${d.url}/v1/sandboxes/${id}/exec`, {
    method: "POST",
    headers: { ...headers(), "content-type": "application/json" },
    body: JSON.stringify({ cmd, timeout_sec: timeoutSec }),
  });
  const body = (await res.json()) as { exit_code: number; stdout: string; stderr: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

async function uploadTempFiles(): Promise<string[]> {
  const r = await exec(`ls -a ${DIR}`);
  return r.stdout.split("\n").filter((n) => n.includes(".wrenn-upload-"));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  d = await startTestDeployment();
  const created = await fetch(`${d.url}/v1/sandboxes`, {
    method: "POST",
    headers: { ...headers(), "content-type": "application/json" },
    body: JSON.stringify({ timeout_sec: 0 }),
  });
  const sandbox = (await created.json()) as { id: string };
  expect(created.status, JSON.stringify(sandbox)).toBe(201);
  id = sandbox.id;
  // The create makes the warm pool restore a VM in the background, in this very process: the
  // peak-RSS figures below must cover the streaming alone.
  await d.agent.manager.warmPoolIdle();
});

afterAll(async () => {
  await d?.close();
});

describe("large files through the streaming routes", () => {
  it("streams 100 MB up and down with matching checksums and bounded memory", async () => {
    const beforeUp = resetPeakRss();
    const upStart = performance.now();
    const up = await collecting(() =>
      uploadFromChild(`${d.url}/v1/sandboxes/${id}/files/stream/write?path=${DIR}/big.bin`),
    );
    const upMs = performance.now() - upStart;
    const upGrowth = peakRss() - beforeUp;
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body).toMatchObject({ path: `${DIR}/big.bin`, name: "big.bin", type: "file", size: SIZE });
    const digest = up.sha256;

    const inGuest = await exec(`sha256sum ${DIR}/big.bin`, 300);
    expect(inGuest.stdout.split(" ")[0]).toBe(digest);
    // The upload went to a temporary file first, renamed over the target at the end.
    expect(await uploadTempFiles()).toEqual([]);

    const beforeDown = resetPeakRss();
    const downStart = performance.now();
    const received = createHash("sha256");
    let got = 0;
    const down = await collecting(async () => {
      const res = await fetch(`${d.url}/v1/sandboxes/${id}/files/stream/read`, {
        method: "POST",
        headers: { ...headers(), "content-type": "application/json" },
        body: JSON.stringify({ path: `${DIR}/big.bin` }),
      });
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
        received.update(piece);
        got += piece.length;
      }
      return res;
    });
    expect(down.status).toBe(200);
    expect(down.headers.get("content-length")).toBe(String(SIZE));
    const downMs = performance.now() - downStart;
    const downGrowth = peakRss() - beforeDown;
    expect(got).toBe(SIZE);
    expect(received.digest("hex")).toBe(digest);

    const mb = (n: number) => (n / 2 ** 20).toFixed(1);
    process.stderr.write(
      `100 MB through the control plane: up ${mb(SIZE / (upMs / 1000))} MB/s (peak RSS +${mb(upGrowth)} MB), ` +
        `down ${mb(SIZE / (downMs / 1000))} MB/s (peak RSS +${mb(downGrowth)} MB)\n`,
    );
    expect(upGrowth).toBeLessThan(MAX_PEAK_GROWTH);
    expect(downGrowth).toBeLessThan(MAX_PEAK_GROWTH);
  });

  it("a reader that stops holds the download back (backpressure), and can abandon it", async () => {
    // big.bin (100 MB) from the first test: envd could send it all within seconds if nothing held it back.
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${d.url}/v1/sandboxes/${id}/files/stream/read`, {
        method: "POST",
        headers: { ...headers(), "content-type": "application/json" },
      });
      req.on("response", resolve);
      req.on("error", reject);
      req.end(JSON.stringify({ path: `${DIR}/big.bin` }));
    });
    expect(res.statusCode).toBe(200);
    const first = await new Promise<Buffer>((resolve) => res.once("data", resolve));
    res.pause();
    expect(first.length).toBeGreaterThan(0);
    const before = resetPeakRss();
    await collecting(() => new Promise((r) => setTimeout(r, 5_000)));
    const growth = peakRss() - before;
    process.stderr.write(`paused download: peak RSS +${(growth / 2 ** 20).toFixed(1)} MB in 5 s\n`);
    expect(growth).toBeLessThan(20 * 1024 * 1024);
    res.destroy();

    // The abandoned transfer left nothing stuck: the file reads back whole.
    const again = await fetch(`${d.url}/v1/sandboxes/${id}/files/stream/read`, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/json" },
      body: JSON.stringify({ path: `${DIR}/big.bin` }),
    });
    let got = 0;
    for await (const piece of again.body as unknown as AsyncIterable<Uint8Array>) got += piece.length;
    expect(got).toBe(SIZE);
  });

  it("an upload broken off mid-transfer leaves the old file and no partial one", async () => {
    const path = `${DIR}/keep.txt`;
    const old = await fetch(`${d.url}/v1/sandboxes/${id}/files/stream/write?path=${path}`, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/octet-stream" },
      body: "old content\n",
    });
    expect(old.status, await old.text()).toBe(200);

    const url = new URL(`${d.url}/v1/sandboxes/${id}/files/stream/write?path=${path}`);
    const req = httpRequest(url, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/octet-stream", "transfer-encoding": "chunked" },
    });
    const answered = new Promise<number | string>((resolve) => {
      req.on("response", (res) => resolve(res.statusCode ?? 0));
      req.on("error", (err) => resolve(err.message));
    });
    const piece = randomBytes(CHUNK);
    for (let sentBytes = 0; sentBytes < 8 * 1024 * 1024; sentBytes += piece.length) {
      if (!req.write(piece)) await new Promise((r) => req.once("drain", r));
    }
    // The bytes reached the guest: the temporary file exists while the upload is open.
    await until("the upload's temporary file appears", async () => (await uploadTempFiles()).length === 1);
    req.destroy();
    expect(await answered).not.toBe(200);

    await until("the temporary file is removed", async () => (await uploadTempFiles()).length === 0);
    const kept = await exec(`cat ${path}`);
    expect(kept.stdout).toBe("old content\n");
  });

  it("an upload whose final rename fails (the target is a directory) is an error and leaves no temp file", async () => {
    const made = await fetch(`${d.url}/v1/sandboxes/${id}/files/mkdir`, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/json" },
      body: JSON.stringify({ path: `${DIR}/sub` }),
    });
    expect(made.status, await made.text()).toBe(200);
    const res = await fetch(`${d.url}/v1/sandboxes/${id}/files/stream/write?path=${DIR}/sub`, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/octet-stream" },
      body: randomBytes(1024 * 1024),
    });
    const error = (await res.json()) as { code: string; message: string };
    expect(res.status, JSON.stringify(error)).toBeGreaterThanOrEqual(400);
    expect(res.status, JSON.stringify(error)).toBeLessThan(500);
    expect(error.message).toBeTruthy();
    expect(await uploadTempFiles()).toEqual([]);
    expect((await exec(`test -d ${DIR}/sub && echo dir`)).stdout).toBe("dir\n");
  });

  it("refuses a declared length over the limit with a 400 before anything reaches the guest", async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${d.url}/v1/sandboxes/${id}/files/stream/write?path=${DIR}/huge.bin`, {
        method: "POST",
        headers: {
          ...headers(),
          "content-type": "application/octet-stream",
          "content-length": String(5 * 2 ** 30),
        },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c;
        });
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: text });
          req.destroy();
        });
      });
      req.on("error", reject);
      req.write(Buffer.alloc(1024));
    });
    expect(status, body).toBe(400);
    expect(JSON.parse(body)).toMatchObject({ code: "invalid_argument" });
    expect(JSON.parse(body).message).toContain("exceeds");
    expect((await exec(`ls -a ${DIR}`)).stdout).not.toContain("huge.bin");
  });
});
