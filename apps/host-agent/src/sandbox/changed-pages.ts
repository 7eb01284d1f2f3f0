import { readFile, rm, writeFile } from "node:fs/promises";
import type { TemplateSnapshot } from "../snapshot/templates.ts";
import { MIB } from "../storage/disk.ts";
import { changedPages, findFileMapping } from "../vmm/page-map.ts";
import type { RestoreSource } from "../vmm/types.ts";
import type { SandboxTable } from "./table.ts";

// A sandbox's RAM is a private mapping of its template's RAM file (clones, first forks, resumed
// sandboxes): the pages it changed are the ones its VMM holds as its own. A saved full state
// reduced to those pages restores over the same mapping into the same guest, copying a fraction
// of the pages (bench/README.md, "The first fork restores only the changed pages").

/** The reduced state could not be written: restore from the full state instead. */
export class ReducedStateFailed extends Error {
  override name = "ReducedStateFailed";
}

/**
 * The pages of guest RAM the VMM process `pid` changed against the template's RAM file, when it
 * maps that file private (else undefined, as when reading the page map fails). Call it while
 * the guest is stopped.
 */
export async function changedAgainstTemplate(
  table: SandboxTable,
  pid: number,
  snap: TemplateSnapshot,
): Promise<Uint8Array | undefined> {
  try {
    const started = performance.now();
    const mapping = await findFileMapping(pid, snap.memory, snap.meta.memoryMb * MIB);
    const changed = mapping ? await changedPages(pid, mapping) : undefined;
    table.logger.debug(
      { ms: Math.round(performance.now() - started), mapped: !!mapping },
      "guest page map read",
    );
    return changed;
  } catch (err) {
    table.logger.warn({ err }, "could not read the guest's page map");
    return undefined;
  }
}

/**
 * A restore source reading `out`: `fullState` with only the `changed` guest pages, written
 * while the VMM starts (it opens `out` at start; the rewrite fills that same file). When the
 * rewrite fails the restore fails with {@link ReducedStateFailed}: restore from `fullState`.
 */
export async function reducedStateSource(
  table: SandboxTable,
  fullState: string,
  changed: Uint8Array,
  out: string,
): Promise<RestoreSource> {
  await writeFile(out, "", { mode: 0o600 });
  const written = table.options.vmm.reduceFullState(fullState, changed, out).then(
    (reduced) => {
      table.logger.debug(reduced, "restoring the changed guest pages only");
    },
    (err: unknown) => {
      table.logger.warn({ err }, "could not reduce a saved state; restoring all of it");
      throw new ReducedStateFailed("the reduced state could not be written", { cause: err });
    },
  );
  written.catch(() => {});
  return { kind: "full", stateFile: out, written };
}

/** Saves a changed-pages bitmap beside a paused sandbox's state. */
export async function saveChangedPages(file: string, changed: Uint8Array): Promise<void> {
  await writeFile(file, changed, { mode: 0o600 });
}

/**
 * The bitmap saved with a pause, when it is there and fits a guest of `memoryMb` (else
 * undefined: the state is restored in full). The file goes with a successful resume.
 */
export async function loadChangedPages(file: string, memoryMb: number): Promise<Uint8Array | undefined> {
  const bytes = await readFile(file).catch(() => undefined);
  if (!bytes || bytes.length !== (memoryMb * MIB) / 4096 / 8) {
    if (bytes) await rm(file, { force: true });
    return undefined;
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
