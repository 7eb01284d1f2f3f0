import { randomUUID } from "node:crypto";
import { errors, type Logger } from "@wrenn/common";
import {
  type Build,
  type BuildLayer,
  type Database,
  deleteBuildLayer,
  findBuildLayer,
  getHost,
  insertBuildLayer,
  touchBuildLayer,
} from "@wrenn/db";
import { type ImageConfig, parseImageRef, RegistryClient } from "@wrenn/images/oci";
import type { SecretBox } from "../crypto/secret-box.ts";
import { placeVm } from "../hosts/placement.ts";
import { agentError, type HostClientPool } from "../hosts/pool.ts";
import type { Scheduler } from "../hosts/scheduler.ts";
import { formatId } from "../ids.ts";
import type { BuildLogWriter } from "./build-log.ts";
import type { GuestState } from "./guest-steps.ts";
import type { BuildOrigin } from "./sandbox.ts";
import type { ImageBase } from "./steps.ts";

/** Registry credentials as a caller gives them (E2B's `fromImage(img, {username, password})`). */
export interface RegistryAuth {
  username: string;
  password: string;
}

/** Checks an image reference as given by a user; `invalid_argument` when it cannot be one. */
export function checkImageRef(ref: string): string {
  try {
    parseImageRef(ref);
  } catch (err) {
    throw errors.invalidArgument((err as Error).message);
  }
  return ref.trim();
}

/** The context credentials are sealed under: a ciphertext copied to another build does not open. */
const authContext = (buildId: string) => `build-registry-auth:${buildId}`;

/** Seals credentials for build `buildId`; refused when the platform has no encryption key. */
export function sealRegistryAuth(box: SecretBox | undefined, buildId: string, auth: RegistryAuth): string {
  if (!box) {
    throw errors.failedPrecondition(
      "registry credentials are stored encrypted: the platform needs WRENN_ENCRYPTION_KEY set",
    );
  }
  return box.sealJson(auth, authContext(buildId)).toString("base64");
}

/** The cache key of a converted image (the digest pins the content; v1 = the conversion's version). */
export function imageCacheKey(digest: string): string {
  return `oci-base-v1:${digest}`;
}

/** Where a build from an image starts: the converted image's template, the guest settings, the cache key. */
export interface ResolvedImageBase {
  origin: BuildOrigin;
  state: GuestState;
  /** Stands for the base in the build's cache keys (the digest, not a row id, so keys survive re-imports). */
  keyId: string;
}

/** The image config's `Env` (`K=V` lines) as a record. */
export function imageEnvs(config: ImageConfig): Record<string, string> {
  const envs: Record<string, string> = {};
  for (const line of config.config?.Env ?? []) {
    const eq = line.indexOf("=");
    if (eq > 0) envs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return envs;
}

/**
 * Bases of builds FROM an OCI image. The control plane reads the manifest and config
 * (the digest names the cache entry; Env and WorkingDir become the build's settings);
 * a host pulls the layers and converts them (the agent's ImportImage), and the result is
 * kept as a hidden template in the team's build layer cache under the digest, so the
 * next build from the same image starts at once. Steps run as `user`, as on every Wrenn base.
 */
export class ImageBases {
  constructor(
    private readonly deps: {
      db: Database;
      pool: HostClientPool;
      scheduler: Scheduler;
      log: Logger;
      box?: SecretBox | undefined;
    },
  ) {}

  /** Resolves (importing on a host when not cached) the base of `build`. */
  async resolve(build: Build, image: ImageBase, log: BuildLogWriter): Promise<ResolvedImageBase> {
    const auth = image.auth ? this.open(build.id, image.auth) : undefined;
    const ref = parseImageRef(image.ref);
    const client = new RegistryClient({ credentials: auth });
    let digest: string;
    let config: ImageConfig;
    try {
      const { digest: d, manifest } = await client.manifest(ref);
      digest = d;
      config = JSON.parse((await client.blob(ref, manifest.config.digest)).toString("utf8")) as ImageConfig;
    } catch (err) {
      throw errors.failedPrecondition(`image ${image.ref}: ${(err as Error).message}`);
    }
    if ((config.os && config.os !== "linux") || (config.architecture && config.architecture !== "amd64")) {
      throw errors.failedPrecondition(
        `image ${image.ref} is ${config.os}/${config.architecture}; Wrenn runs linux/amd64 images`,
      );
    }
    log.system(`base image ${image.ref} is ${digest}`);
    const key = imageCacheKey(digest);
    const layer =
      (await this.cached(build.teamId, key, log)) ??
      (await this.importOnHost(build, `${ref.registry}/${ref.repository}@${digest}`, key, auth, log));
    return {
      origin: {
        name: image.ref,
        rowId: layer.id,
        agentId: layer.id,
        teamId: build.teamId,
        hostId: layer.hostId,
      },
      state: { envs: imageEnvs(config), user: "user", workdir: config.config?.WorkingDir ?? "" },
      keyId: key,
    };
  }

  private open(buildId: string, sealed: string): RegistryAuth {
    if (!this.deps.box)
      throw errors.failedPrecondition("registry credentials cannot be opened: no WRENN_ENCRYPTION_KEY");
    return this.deps.box.openJson<RegistryAuth>(Buffer.from(sealed, "base64"), authContext(buildId));
  }

  /** The team's converted image under `key` when its host is online (a row whose host is gone is dropped). */
  private async cached(teamId: string, key: string, log: BuildLogWriter): Promise<BuildLayer | undefined> {
    const { db } = this.deps;
    const layer = await findBuildLayer(db, teamId, key);
    if (!layer) return undefined;
    const host = await getHost(db, layer.hostId);
    if (host?.status !== "online") {
      await deleteBuildLayer(db, layer.id);
      return undefined;
    }
    await touchBuildLayer(db, layer.id, new Date());
    log.system("the converted image is reused from the cache (same digest)");
    return layer;
  }

  private async importOnHost(
    build: Build,
    pinned: string,
    key: string,
    auth: RegistryAuth | undefined,
    log: BuildLogWriter,
  ): Promise<BuildLayer> {
    const { db, pool } = this.deps;
    const host = await placeVm(
      this.deps,
      build.teamId,
      { vcpus: build.vcpus, memoryMb: build.memoryMb },
      { noHostMessage: "no host is online to import the image" },
    );
    const id = randomUUID();
    log.system(`pulling the image on host ${formatId("host", host.id)} and converting it to a guest rootfs`);
    const started = Date.now();
    let sizeBytes: number;
    try {
      const res = await pool.get(host).importImage(
        {
          teamId: build.teamId,
          templateId: id,
          image: pinned,
          username: auth?.username ?? "",
          password: auth?.password ?? "",
          diskSizeMb: build.diskSizeMb,
        },
        { timeoutMs: 30 * 60_000 },
      );
      sizeBytes = Number(res.sizeBytes);
    } catch (err) {
      throw agentError(err, `import the image on host ${formatId("host", host.id)}`);
    }
    const row = { id, teamId: build.teamId, cacheKey: key, hostId: host.id, sizeBytes };
    if (!(await insertBuildLayer(db, row))) {
      // Another build converted the same digest meanwhile: use its copy, drop ours.
      await pool
        .get(host)
        .deleteSnapshot({ teamId: build.teamId, templateId: id })
        .catch(() => undefined);
      const winner = await findBuildLayer(db, build.teamId, key);
      if (winner) return winner;
      throw errors.unavailable("the converted image vanished from the cache; build again");
    }
    log.system(
      `image converted in ${((Date.now() - started) / 1000).toFixed(1)} s (${Math.round(sizeBytes / 1e6)} MB), cached by digest`,
    );
    return { ...row, createdAt: new Date(), lastUsedAt: new Date() };
  }
}
