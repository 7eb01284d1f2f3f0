import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/** `sha256:<hex>` of `b`, as OCI digests are written. */
export const sha256Digest = (b: Buffer): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A tar of the directory `dir` (paths `./…`, numeric owners, as image tools write them). */
export function tarOf(dir: string, extra: string[] = []): Buffer {
  return execFileSync("tar", ["-C", dir, "--numeric-owner", ...extra, "-cf", "-", "."], {
    maxBuffer: 1 << 30,
  });
}

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** A real registry (Debian's `docker-registry`) on loopback for tests, and pushes into it. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  host: string;
  pushBlob(repo: string, blob: Buffer): Promise<string>;
  /** Puts a manifest (or index) under `ref`; answers the bytes pushed (their digest names it). */
  pushManifest(repo: string, ref: string, type: string, doc: unknown): Promise<Buffer>;
  /** Pushes an image: its config and layers (plain tar, or gzip when `gzipped`), tagged `tag`. */
  pushImage(
    repo: string,
    tag: string,
    image: { config: Record<string, unknown>; layers: { blob: Buffer; gzipped?: boolean }[] },
  ): Promise<string>;
  close(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: registry answered ${res.status}: ${await res.text()}`);
}

/**
 * Starts `docker-registry` with its storage in `dir` and waits until it answers. Throws
 * (tests fail, never skip) when docker-registry is missing (scripts/install-system-deps installs it).
 */
export async function startTestRegistry(dir: string): Promise<TestRegistry> {
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, "registry.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "store")}\nhttp:\n  addr: ${host}\n`,
  );
  const proc: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  const failed = new Promise<never>((_, reject) =>
    proc.once("error", (err) => reject(new Error(`docker-registry did not start: ${err.message}`))),
  );
  const deadline = Date.now() + 20_000;
  const up = (async () => {
    for (;;) {
      const ok = await fetch(`http://${host}/v2/`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error("docker-registry did not answer on /v2/");
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.race([up, failed]).catch((err) => {
    proc.kill();
    throw err;
  });

  const pushBlob = async (repo: string, blob: Buffer) => {
    const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: "POST" });
    await expectStatus(start, 202, "blob upload start");
    const location = new URL(start.headers.get("location") as string, `http://${host}`);
    location.searchParams.set("digest", sha256Digest(blob));
    const put = await fetch(location, {
      method: "PUT",
      body: blob,
      headers: { "content-type": "application/octet-stream" },
    });
    await expectStatus(put, 201, "blob upload");
    return sha256Digest(blob);
  };
  const pushManifest = async (repo: string, ref: string, type: string, doc: unknown) => {
    const body = Buffer.from(JSON.stringify(doc));
    const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
      method: "PUT",
      body,
      headers: { "content-type": type },
    });
    await expectStatus(res, 201, "manifest push");
    return body;
  };
  return {
    host,
    pushBlob,
    pushManifest,
    async pushImage(repo, tag, image) {
      const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", ...image.config }));
      await pushBlob(repo, config);
      for (const l of image.layers) await pushBlob(repo, l.blob);
      const manifest = await pushManifest(repo, tag, OCI_MANIFEST, {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: sha256Digest(config),
          size: config.length,
        },
        layers: image.layers.map((l) => ({
          mediaType: `application/vnd.oci.image.layer.v1.tar${l.gzipped ? "+gzip" : ""}`,
          digest: sha256Digest(l.blob),
          size: l.blob.length,
        })),
      });
      return sha256Digest(manifest);
    },
    close: () => proc.kill(),
  };
}
