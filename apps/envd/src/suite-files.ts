import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import {
  basicAuth,
  collect,
  envdClients,
  type SuiteSession,
  signFilesUrl,
  waitFor,
} from "@wrenn/testing/envd-target";
import { describe, expect, it } from "vitest";

const sh = (script: string) => ({ cmd: "/bin/sh", args: ["-c", script] });
const LARGE_FILE_MB = 100;

/** HTTP /files tests (uploads, downloads, signatures, a 100 MB round trip) and port forwarding. */
export function registerFilesTests(getSession: () => SuiteSession): void {
  const filesUrl = (params: Record<string, string>) =>
    `${getSession().target.baseUrl}/files?${new URLSearchParams(params).toString()}`;
  const token = () => ({ "X-Access-Token": getSession().accessToken });
  const dir = () => `${getSession().target.scratchDir}/files`;
  const shell = async (script: string, user = "root") =>
    collect(envdClients(getSession(), { user }).process.start({ process: sh(script) }));

  describe("files over HTTP", () => {
    it("uploads a raw octet-stream body, creating parents owned by the user", async () => {
      const res = await fetch(filesUrl({ path: `${dir()}/raw/nested/hello.txt` }), {
        method: "POST",
        headers: { ...token(), "content-type": "application/octet-stream" },
        body: "hello octet",
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual([
        { path: `${dir()}/raw/nested/hello.txt`, name: "hello.txt", type: "file" },
      ]);
      const owners = await shell(
        `stat -c '%u:%g' ${dir()}/raw ${dir()}/raw/nested ${dir()}/raw/nested/hello.txt`,
      );
      expect(owners.stdout).toBe("1000:1000\n1000:1000\n1000:1000\n");
      const download = await fetch(filesUrl({ path: `${dir()}/raw/nested/hello.txt` }), {
        headers: { ...token(), "accept-encoding": "identity" },
      });
      expect(download.status).toBe(200);
      expect(download.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(download.headers.get("content-length")).toBe("11");
      expect(await download.text()).toBe("hello octet");
    });

    it("uploads several files in one multipart body (part filenames as paths)", async () => {
      const form = new FormData();
      form.append("file", new Blob(["first"]), `${dir()}/multi/one.bin`);
      form.append("file", new Blob([new Uint8Array([0, 1, 2, 255])]), "multi-relative/two.bin");
      const res = await fetch(filesUrl({ username: "user" }), {
        method: "POST",
        headers: token(),
        body: form,
      });
      expect(res.status).toBe(200);
      const written = (await res.json()) as Array<{ path: string }>;
      const home = getSession().target.userHome;
      expect(written.map((w) => w.path)).toEqual([
        `${dir()}/multi/one.bin`,
        `${home}/multi-relative/two.bin`,
      ]);
      const two = await fetch(filesUrl({ path: "multi-relative/two.bin", username: "user" }), {
        headers: token(),
      });
      expect(two.headers.get("content-type")).toBe("application/octet-stream");
      expect(new Uint8Array(await two.arrayBuffer())).toEqual(new Uint8Array([0, 1, 2, 255]));
      const single = new FormData();
      single.append("file", new Blob(["by query path"]), "ignored-name");
      const res2 = await fetch(filesUrl({ path: `${dir()}/multi/query.txt` }), {
        method: "POST",
        headers: token(),
        body: single,
      });
      expect(res2.status).toBe(200);
      expect(
        await (await fetch(filesUrl({ path: `${dir()}/multi/query.txt` }), { headers: token() })).text(),
      ).toBe("by query path");
    });

    it("accepts gzip content-encoding and serves gzip on request", async () => {
      const text = "compressible ".repeat(5000);
      const res = await fetch(filesUrl({ path: `${dir()}/gz/text.txt` }), {
        method: "POST",
        headers: { ...token(), "content-type": "application/octet-stream", "content-encoding": "gzip" },
        body: gzipSync(text),
      });
      expect(res.status).toBe(200);
      const plain = await fetch(filesUrl({ path: `${dir()}/gz/text.txt` }), { headers: token() });
      expect(await plain.text()).toBe(text);
      // fetch decodes gzip transparently; the header proves envd compressed it.
      const zipped = await fetch(filesUrl({ path: `${dir()}/gz/text.txt` }), {
        headers: { ...token(), "accept-encoding": "gzip" },
      });
      expect(zipped.headers.get("content-encoding")).toBe("gzip");
      expect(await zipped.text()).toBe(text);
    });

    it("resolves relative paths against the user's home and uses the Basic auth user", async () => {
      const res = await fetch(filesUrl({ path: "rel-upload.txt" }), {
        method: "POST",
        headers: { ...token(), Authorization: basicAuth("user") },
        body: "home file",
      });
      expect(await res.json()).toEqual([
        { path: `${getSession().target.userHome}/rel-upload.txt`, name: "rel-upload.txt", type: "file" },
      ]);
    });

    it("answers errors with the right status and no internals", async () => {
      const missing = await fetch(filesUrl({ path: `${dir()}/nope.txt` }), { headers: token() });
      expect(missing.status).toBe(404);
      const body = (await missing.json()) as { code: number; message: string };
      expect(body).toMatchObject({ code: 404 });
      expect(body.message).not.toMatch(/\n\s+at /);
      expect((await fetch(filesUrl({ path: dir() }), { headers: token() })).status).toBe(400);
      await shell(`mkdir -p ${dir()}/locked && chmod 700 ${dir()}/locked && echo s > ${dir()}/locked/s`);
      const upload = await fetch(filesUrl({ path: `${dir()}/locked/x.txt`, username: "user" }), {
        method: "POST",
        headers: token(),
        body: "x",
      });
      expect(upload.status).toBe(403);
      // Missing parents are created for the default user (as E2B's envd does), even under a
      // directory it cannot write; an existing one it cannot write stays closed (above).
      await shell(`mkdir -p ${dir()}/rootdir && chmod 755 ${dir()}/rootdir`);
      const created = await fetch(filesUrl({ path: `${dir()}/rootdir/new/deeper/x.txt`, username: "user" }), {
        method: "POST",
        headers: token(),
        body: "x",
      });
      expect(created.status).toBe(200);
      const owners = await shell(`stat -c %u:%g ${dir()}/rootdir/new ${dir()}/rootdir/new/deeper/x.txt`);
      expect(owners.stdout).toBe("1000:1000\n1000:1000\n");
      const read = await fetch(filesUrl({ path: `${dir()}/locked/s`, username: "user" }), {
        headers: token(),
      });
      expect(read.status).toBe(403);
      const noPath = await fetch(filesUrl({}), { method: "POST", headers: token(), body: "x" });
      expect(noPath.status).toBe(400);
      const badMultipart = await fetch(filesUrl({ path: `${dir()}/bad` }), {
        method: "POST",
        headers: { ...token(), "content-type": "multipart/form-data; boundary=xyz" },
        body: '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\ntruncated',
      });
      expect(badMultipart.status).toBe(400);
    });

    it("accepts signed URLs and rejects expired or tampered ones", async () => {
      const { accessToken } = getSession();
      const path = `${dir()}/signed.txt`;
      const expires = Math.floor(Date.now() / 1000) + 300;
      const upload = await fetch(
        filesUrl({
          path,
          username: "user",
          signature: signFilesUrl(path, "write", "user", accessToken, expires),
          signature_expiration: String(expires),
        }),
        { method: "POST", body: "signed upload" },
      );
      expect(upload.status).toBe(200);
      const ok = await fetch(filesUrl({ path, signature: signFilesUrl(path, "read", "", accessToken) }));
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("signed upload");
      // Well in the past: a guest clock under emulation may lag the host by seconds.
      const past = Math.floor(Date.now() / 1000) - 3600;
      const expired = await fetch(
        filesUrl({
          path,
          signature: signFilesUrl(path, "read", "", accessToken, past),
          signature_expiration: String(past),
        }),
      );
      expect(expired.status).toBe(401);
      const otherPath = await fetch(
        filesUrl({
          path: `${dir()}/raw/nested/hello.txt`,
          signature: signFilesUrl(path, "read", "", accessToken),
        }),
      );
      expect(otherPath.status).toBe(401);
      const extended = await fetch(
        filesUrl({
          path,
          signature: signFilesUrl(path, "read", "", accessToken, expires),
          signature_expiration: String(expires + 1000),
        }),
      );
      expect(extended.status).toBe(401);
      const readAsWrite = await fetch(
        filesUrl({ path, signature: signFilesUrl(path, "read", "", accessToken) }),
        {
          method: "POST",
          body: "overwrite",
        },
      );
      expect(readAsWrite.status).toBe(401);
      const wrongKey = await fetch(
        filesUrl({ path, signature: signFilesUrl(path, "read", "", "not-the-token") }),
      );
      expect(wrongKey.status).toBe(401);
    });

    it(`streams a ${LARGE_FILE_MB} MB file up and down without buffering it (checksum, memory, speed)`, async () => {
      const session = getSession();
      const path = `${dir()}/large.bin`;
      const block = randomBytes(1024 * 1024);
      const uploadHash = createHash("sha256");
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === LARGE_FILE_MB) {
            controller.close();
            return;
          }
          const chunk = Buffer.from(block);
          chunk.writeUInt32BE(sent, 0);
          uploadHash.update(chunk);
          controller.enqueue(chunk);
          sent++;
        },
      });
      const rssBefore = await session.target.envdRssKb(session.accessToken);
      let peakRss = rssBefore;
      let sampling = true;
      // Sequential samples: in a slow guest each one is itself a process start.
      const sampler = (async () => {
        while (sampling) {
          peakRss = Math.max(peakRss, await session.target.envdRssKb(session.accessToken));
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();
      try {
        const upStart = performance.now();
        const up = await fetch(filesUrl({ path }), {
          method: "POST",
          headers: { ...token(), "content-type": "application/octet-stream" },
          body,
          duplex: "half",
        } as RequestInit);
        expect(up.status).toBe(200);
        const upSeconds = (performance.now() - upStart) / 1000;
        const expected = uploadHash.digest("hex");
        const inGuest = await shell(`sha256sum ${path}`);
        expect(inGuest.stdout.split(" ")[0]).toBe(expected);

        const downStart = performance.now();
        // identity: fetch would otherwise ask for gzip, and envd honours that.
        const down = await fetch(filesUrl({ path }), {
          headers: { ...token(), "accept-encoding": "identity" },
        });
        expect(down.headers.get("content-length")).toBe(String(LARGE_FILE_MB * 1024 * 1024));
        const downloadHash = createHash("sha256");
        let received = 0;
        for await (const chunk of down.body as unknown as AsyncIterable<Uint8Array>) {
          downloadHash.update(chunk);
          received += chunk.length;
        }
        const downSeconds = (performance.now() - downStart) / 1000;
        expect(received).toBe(LARGE_FILE_MB * 1024 * 1024);
        expect(downloadHash.digest("hex")).toBe(expected);
        console.log(
          `[envd metrics] ${LARGE_FILE_MB} MB upload ${(LARGE_FILE_MB / upSeconds).toFixed(1)} MB/s, download ${(LARGE_FILE_MB / downSeconds).toFixed(1)} MB/s, envd RSS ${rssBefore} KiB -> peak ${peakRss} KiB`,
        );
      } finally {
        sampling = false;
        await sampler;
        await shell(`rm -f ${path}`);
      }
      // Buffering the file would add ~100 MB; streaming stays within a few dozen.
      expect(peakRss - rssBefore).toBeLessThan(64 * 1024);
    });
  });

  describe("port forwarding", () => {
    it("exposes a server bound to localhost on the machine's address, and stops when it goes", async () => {
      const { target } = getSession();
      const { guestPort, url } = target.forwardedPort;
      const { process } = envdClients(getSession(), { user: "root" });
      const controller = new AbortController();
      const server = collect(
        process.start(
          {
            process: {
              cmd: "python3",
              args: [
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                String(guestPort),
                "--directory",
                target.scratchDir,
              ],
            },
            tag: "forwarded-server",
          },
          { signal: controller.signal },
        ),
      ).catch(() => undefined);
      try {
        const res = await waitFor(
          async () => {
            const r = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) });
            return r.status === 200 ? r : undefined;
          },
          30_000,
          "the forwarded server",
        );
        expect(await res.text()).toContain("Directory listing");
      } finally {
        await process
          .sendSignal({ process: { selector: { case: "tag", value: "forwarded-server" } }, signal: 9 })
          .catch(() => undefined);
        controller.abort();
        await server;
      }
      await waitFor(
        async () => {
          try {
            await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) });
            return undefined;
          } catch {
            return true;
          }
        },
        15_000,
        "the forward to close",
      );
    });
  });
}
