import { randomUUID } from "node:crypto";
import type { Logger } from "@wrenn/common";
import {
  type Build,
  type BuildLayer,
  type Database,
  deleteBuildLayer,
  findBuildLayer,
  getHost,
  insertBuildLayer,
  listEvictableLayers,
  touchBuildLayer,
} from "@wrenn/db";
import type { HostClientPool } from "../hosts/pool.ts";
import type { BuildLogWriter } from "./build-log.ts";
import type { BuildSandbox } from "./sandbox.ts";

/**
 * The build layer cache: after a step, the build sandbox may be captured as a
 * hidden snapshot template (`teams/{team}/{layer id}` on its host), recorded
 * under the hash of the steps up to it. A later build with the same prefix
 * starts from the deepest such layer instead of running those steps. Each
 * layer costs a snapshot's disk (RAM image + flattened disk); a team keeps at
 * most `maxLayersPerTeam`, least recently used evicted first.
 */
export class LayerCache {
  constructor(
    private readonly deps: { db: Database; pool: HostClientPool; log: Logger },
    private readonly maxLayersPerTeam: number,
  ) {}

  /** The deepest layer among `keys` whose host is online (marked used), with its 0-based index. */
  async deepest(teamId: string, keys: string[]): Promise<{ index: number; layer: BuildLayer } | undefined> {
    for (let i = keys.length - 1; i >= 0; i--) {
      const layer = await findBuildLayer(this.deps.db, teamId, keys[i] as string);
      if (!layer) continue;
      const host = await getHost(this.deps.db, layer.hostId);
      if (host?.status !== "online") continue;
      await touchBuildLayer(this.deps.db, layer.id, new Date());
      return { index: i, layer };
    }
    return undefined;
  }

  /** Captures the sandbox as cache layer `key` (replacing a stale one of the same key). */
  async capture(
    build: Build,
    sandbox: BuildSandbox,
    key: string,
    n: number,
    log: BuildLogWriter,
  ): Promise<void> {
    const { db } = this.deps;
    const old = await findBuildLayer(db, build.teamId, key);
    if (old) await this.deleteLayer(old);
    const id = randomUUID();
    const started = Date.now();
    const sizeBytes = await sandbox.snapshot(build.teamId, id, `layer-${key.slice(0, 12)}`);
    if (
      !(await insertBuildLayer(db, {
        id,
        teamId: build.teamId,
        cacheKey: key,
        hostId: sandbox.host.id,
        sizeBytes,
      }))
    ) {
      await sandbox.deleteTemplateFiles(build.teamId, id);
      return;
    }
    log.system(
      `cache layer for steps 1-${n} saved (${Math.round(sizeBytes / 1e6)} MB, ${Date.now() - started} ms)`,
      n,
    );
  }

  private async deleteLayer(layer: { id: string; teamId: string; hostId: string }): Promise<void> {
    const host = await getHost(this.deps.db, layer.hostId);
    if (host?.status === "online") {
      await this.deps.pool
        .get(host)
        .deleteSnapshot({ teamId: layer.teamId, templateId: layer.id })
        .catch((err) => this.deps.log.warn({ err, layerId: layer.id }, "cache layer files left on host"));
    }
    await deleteBuildLayer(this.deps.db, layer.id);
  }

  /** Keeps the team's most recently used layers; the rest go (files first, then the row). */
  async evict(teamId: string): Promise<void> {
    try {
      for (const layer of await listEvictableLayers(this.deps.db, teamId, this.maxLayersPerTeam)) {
        await this.deleteLayer(layer);
      }
    } catch (err) {
      this.deps.log.warn({ err, teamId }, "cache layer eviction failed");
    }
  }
}
