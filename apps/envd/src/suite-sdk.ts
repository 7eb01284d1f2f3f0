import { type SuiteSession, waitFor } from "@wrenn/testing/envd-target";
import { FilesystemEventType, Sandbox } from "e2b";
import { describe, expect, it } from "vitest";

/**
 * A Sandbox object of the official `e2b` SDK pointed straight at envd. The
 * SDK builds one itself after its control-plane API created a sandbox; here
 * we call the same constructor with what that API would have returned (id,
 * envd version, envd access token) and `sandboxUrl` set to envd, so every
 * call below runs through the SDK's own envd client code (connect-web
 * transport, its fetch, headers, signatures). `debug: true` only keeps the
 * SDK from contacting E2B's API for lifecycle calls we do not make.
 */
export function sdkSandbox(session: SuiteSession): Sandbox {
  const SandboxConstructor = Sandbox as unknown as new (opts: Record<string, unknown>) => Sandbox;
  return new SandboxConstructor({
    sandboxId: "sbx-suite",
    envdVersion: "0.6.4",
    envdAccessToken: session.accessToken,
    sandboxUrl: session.target.baseUrl,
    debug: true,
    apiKey: "unused-without-control-plane",
  });
}

/** Drives envd with the official `e2b` SDK (commands, files, PTY, watch, signed URLs). */
export function registerSdkTests(getSession: () => SuiteSession): void {
  describe("official e2b SDK against envd", () => {
    const dir = () => `${getSession().target.scratchDir}/sdk`;

    it("reports the sandbox as running (GET /health)", async () => {
      expect(await sdkSandbox(getSession()).isRunning()).toBe(true);
    });

    it("runs commands as the default user and as root", async () => {
      const sandbox = sdkSandbox(getSession());
      const result = await sandbox.commands.run("echo $((40 + 2)); id -u; echo $USER $SUITE_VAR");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("42\n1000\nuser from-init\n");
      const asRoot = await sandbox.commands.run("id -un; echo $X; pwd", {
        user: "root",
        envs: { X: "y" },
        cwd: "/tmp",
      });
      expect(asRoot.stdout).toBe("root\ny\n/tmp\n");
      await expect(sandbox.commands.run("echo oops >&2; exit 5")).rejects.toMatchObject({
        exitCode: 5,
        stderr: "oops\n",
      });
    });

    it("starts background commands, lists, re-connects, sends stdin and kills", async () => {
      const sandbox = sdkSandbox(getSession());
      const chunks: string[] = [];
      const handle = await sandbox.commands.run("cat", {
        background: true,
        stdin: true,
        onStdout: (d) => void chunks.push(d),
      });
      const listed = await sandbox.commands.list();
      expect(listed.map((p) => p.pid)).toContain(handle.pid);
      await sandbox.commands.sendStdin(handle.pid, "via sdk\n");
      await waitFor(
        async () => (chunks.join("").includes("via sdk") ? true : undefined),
        10_000,
        "echoed stdin",
      );
      await handle.disconnect();
      const again = await sandbox.commands.connect(handle.pid);
      expect(await sandbox.commands.kill(handle.pid)).toBe(true);
      await expect(again.wait()).rejects.toBeDefined();
      expect((await sandbox.commands.list()).map((p) => p.pid)).not.toContain(handle.pid);
    });

    it("writes, reads, lists, renames and removes files", async () => {
      const sandbox = sdkSandbox(getSession());
      const info = await sandbox.files.write(`${dir()}/a.txt`, "sdk content");
      expect(info.path).toBe(`${dir()}/a.txt`);
      expect(await sandbox.files.read(`${dir()}/a.txt`)).toBe("sdk content");
      const bytes = await sandbox.files.read(`${dir()}/a.txt`, { format: "bytes" });
      expect(Buffer.from(bytes).toString()).toBe("sdk content");
      await sandbox.files.write([
        { path: `${dir()}/multi/1.txt`, data: "one" },
        { path: `${dir()}/multi/2.txt`, data: new Blob(["two"]) },
      ]);
      expect((await sandbox.files.list(`${dir()}/multi`)).map((e) => e.name).sort()).toEqual([
        "1.txt",
        "2.txt",
      ]);
      await sandbox.files.write(`${dir()}/gz.txt`, "zipped", { gzip: true });
      expect(await sandbox.files.read(`${dir()}/gz.txt`, { gzip: true })).toBe("zipped");
      expect(await sandbox.files.makeDir(`${dir()}/made`)).toBe(true);
      expect(await sandbox.files.makeDir(`${dir()}/made`)).toBe(false);
      const renamed = await sandbox.files.rename(`${dir()}/a.txt`, `${dir()}/made/b.txt`);
      expect(renamed.name).toBe("b.txt");
      const stat = await sandbox.files.getInfo(`${dir()}/made/b.txt`);
      expect(stat).toMatchObject({ type: "file", size: 11, owner: "user", permissions: "-rw-r--r--" });
      expect(await sandbox.files.exists(`${dir()}/a.txt`)).toBe(false);
      await sandbox.files.remove(`${dir()}/made`);
      expect(await sandbox.files.exists(`${dir()}/made`)).toBe(false);
      await expect(sandbox.files.read(`${dir()}/missing`)).rejects.toThrow(/does not exist|not found/i);
    });

    it("stores file metadata as user.e2b.* xattrs, shown by getInfo and list, replaced on overwrite", async () => {
      const sandbox = sdkSandbox(getSession());
      const path = `${dir()}/meta/tagged.txt`;
      // The multipart path (default) and the octet-stream path (gzip) both carry X-Metadata-*.
      const written = await sandbox.files.write(path, "tagged", {
        metadata: { Owner: "alice", "build-id": "42" },
      });
      expect(written.metadata).toEqual({ owner: "alice", "build-id": "42" });
      expect((await sandbox.files.getInfo(path)).metadata).toEqual({ owner: "alice", "build-id": "42" });
      await sandbox.files.write(`${dir()}/meta/zipped.txt`, "z", { gzip: true, metadata: { kind: "gz" } });
      await sandbox.files.write(`${dir()}/meta/plain.txt`, "no metadata");
      const listed = Object.fromEntries(
        (await sandbox.files.list(`${dir()}/meta`)).map((entry) => [entry.name, entry.metadata]),
      );
      expect(listed).toEqual({
        "plain.txt": undefined,
        "tagged.txt": { owner: "alice", "build-id": "42" },
        "zipped.txt": { kind: "gz" },
      });
      // In the guest they are ordinary user xattrs under E2B's prefix.
      const attrs = await sandbox.commands.run(
        `python3 -c "import os; print(sorted(os.listxattr('${path}')))"`,
      );
      expect(attrs.stdout.trim()).toBe("['user.e2b.build-id', 'user.e2b.owner']");
      // As E2B: a write replaces the file's metadata; without any, an overwrite clears it.
      await sandbox.files.write(path, "again", { metadata: { owner: "bob" } });
      expect((await sandbox.files.getInfo(path)).metadata).toEqual({ owner: "bob" });
      await sandbox.files.write(path, "plain again");
      expect((await sandbox.files.getInfo(path)).metadata).toBeUndefined();
    });

    it("watches a directory", async () => {
      const sandbox = sdkSandbox(getSession());
      await sandbox.files.makeDir(`${dir()}/watch`);
      const seen: string[] = [];
      const handle = await sandbox.files.watchDir(
        `${dir()}/watch`,
        (event) => void seen.push(`${event.type}:${event.name}`),
      );
      await sandbox.files.write(`${dir()}/watch/new.txt`, "x");
      await waitFor(
        async () => (seen.includes(`${FilesystemEventType.CREATE}:new.txt`) ? true : undefined),
        10_000,
        "sdk watch event",
      );
      await handle.stop();
    });

    it("opens a PTY, types, resizes and kills it", async () => {
      const sandbox = sdkSandbox(getSession());
      let screen = "";
      const terminal = await sandbox.pty.create({
        cols: 80,
        rows: 24,
        onData: (data) => {
          screen += Buffer.from(data).toString("utf8");
        },
      });
      await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode("stty size; echo SDK-$TERM\n"));
      await waitFor(
        async () => (/24 80[\s\S]*SDK-xterm-256color/.test(screen) ? true : undefined),
        20_000,
        "pty output",
      );
      await sandbox.pty.resize(terminal.pid, { cols: 120, rows: 30 });
      await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode("stty size\n"));
      await waitFor(async () => (/30 120/.test(screen) ? true : undefined), 20_000, "resized pty");
      expect(await sandbox.pty.kill(terminal.pid)).toBe(true);
    });

    it("produces signed upload and download URLs envd accepts", async () => {
      const sandbox = sdkSandbox(getSession());
      const path = `${dir()}/signed-by-sdk.txt`;
      const uploadUrl = await sandbox.uploadUrl(path, { useSignatureExpiration: 60 });
      const form = new FormData();
      form.append("file", new Blob(["through signed url"]), path);
      expect((await fetch(uploadUrl, { method: "POST", body: form })).status).toBe(200);
      const downloadUrl = await sandbox.downloadUrl(path);
      const res = await fetch(downloadUrl);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("through signed url");
      const tampered = new URL(downloadUrl);
      tampered.searchParams.set("path", `${dir()}/other.txt`);
      expect((await fetch(tampered)).status).toBe(401);
    });
  });
}
