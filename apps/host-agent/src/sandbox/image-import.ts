import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { assertSafeName, errors, isWrennError, type Logger } from "@wrenn/common";
import { readGuestImage } from "@wrenn/images";
import {
  applyLayer,
  imageToGuestRootfs,
  type PulledImage,
  parseImageRef,
  RegistryClient,
} from "@wrenn/images/oci";
import type { TemplateImageSource, TemplateStore } from "../snapshot/templates.ts";
import { allocatedBytes } from "../storage/disk.ts";
import { TEMPLATE_FILES } from "../storage/layout.ts";

/** An image to make a template of (see the ImportImage RPC). */
export interface ImportImageInput {
  teamId: string;
  templateId: string;
  /** `registry/repository@sha256:…` (or a tag). */
  image: string;
  /** Registry credentials for this pull only (empty: anonymous). */
  username: string;
  password: string;
  /** Largest image content accepted. */
  diskSizeMb: number;
}

/** What {@link importImage} uses. */
export interface ImportDeps {
  templates: TemplateStore;
  /** The guest image whose kernel boots the template and whose runtime goes into it. */
  guestImage: () => Promise<TemplateImageSource>;
  logger: Logger;
}

const MIB = 2 ** 20;

/**
 * Pulls an OCI image from its registry (this host pulls, so the layers cross the network
 * once, compressed), applies its layers, converts the tree into a guest rootfs
 * (`imageToGuestRootfs`) and records it as image-only template `teams/{team}/{template}`:
 * a cold-boot template whose first sandbox captures the snapshot the next ones restore.
 * Nothing of a failed import stays. The credentials are used for this pull only.
 */
export async function importImage(
  deps: ImportDeps,
  req: ImportImageInput,
): Promise<{ sizeBytes: number; digest: string }> {
  assertSafeName(req.teamId, "team_id");
  assertSafeName(req.templateId, "template_id");
  let ref: ReturnType<typeof parseImageRef>;
  try {
    ref = parseImageRef(req.image);
  } catch (err) {
    throw errors.invalidArgument((err as Error).message);
  }
  const { templates, logger } = deps;
  if (await templates.exists(req.teamId, req.templateId)) {
    throw errors.alreadyExists(`template ${req.templateId} already exists on this host`);
  }
  const started = Date.now();
  const imageDir = await templates.imageDir(req.teamId, req.templateId);
  const work = join(dirname(imageDir), "import");
  try {
    const source = await deps.guestImage();
    const guest = await readGuestImage(dirname(source.rootfs));
    if (!guest) throw errors.failedPrecondition("the guest image of this host is incomplete");
    const credentials = req.username ? { username: req.username, password: req.password } : undefined;
    let pulled: PulledImage;
    try {
      pulled = await new RegistryClient({ credentials }).pull(ref);
    } catch (err) {
      throw errors.failedPrecondition(`pulling ${req.image} failed: ${(err as Error).message}`);
    }
    const tree = join(work, "tree");
    await mkdir(tree, { recursive: true });
    for (const [i, layer] of pulled.layers.entries()) {
      try {
        await applyLayer(tree, layer.blob);
      } catch (err) {
        throw errors.failedPrecondition(`layer ${i + 1} of ${req.image}: ${(err as Error).message}`);
      }
    }
    const rootfs = join(imageDir, TEMPLATE_FILES.rootfs);
    await imageToGuestRootfs({
      treeDir: tree,
      workDir: join(work, "convert"),
      guest,
      out: rootfs,
      maxContentBytes: req.diskSizeMb * MIB,
      imageInfo: { image: `${ref.registry}/${ref.repository}`, digest: pulled.digest },
    });
    await rm(work, { recursive: true, force: true });
    await templates.completeImage(imageDir, guest, `oci-${pulled.digest.slice(7, 23)}`);
    const sizeBytes = await allocatedBytes(rootfs);
    logger.info(
      { teamId: req.teamId, templateId: req.templateId, digest: pulled.digest, ms: Date.now() - started },
      "OCI image imported as a template",
    );
    return { sizeBytes, digest: pulled.digest };
  } catch (err) {
    await templates.delete(req.teamId, req.templateId, new Set());
    if (isWrennError(err)) throw err;
    logger.error({ err, templateId: req.templateId }, "image import failed");
    throw errors.internal(`importing ${req.image} failed`, err);
  }
}
