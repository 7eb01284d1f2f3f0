import type { hostagent } from "@wrenn/proto";
import type { TemplateOperations } from "../../sandbox/template-ops.ts";
import type { ErrorMapping, HandlersOf } from "./context.ts";

/** Templates made from sandboxes (snapshot, image-only flatten), from OCI images, and delete. */
export function templateHandlers(
  templates: TemplateOperations,
  { unary }: ErrorMapping,
): HandlersOf<"createSnapshot" | "deleteSnapshot" | "flattenRootfs" | "importImage"> {
  return {
    createSnapshot: unary("CreateSnapshot", async (req: hostagent.CreateSnapshotRequest) => {
      const snapshot = await templates.createSnapshot(req.sandboxId, req.teamId, req.templateId);
      return {
        sizeBytes: BigInt(snapshot.sizeBytes),
        vcpus: snapshot.vcpus,
        memoryMb: snapshot.memoryMb,
      };
    }),
    deleteSnapshot: unary("DeleteSnapshot", async (req: hostagent.DeleteSnapshotRequest) => {
      await templates.deleteSnapshot(req.teamId, req.templateId);
      return {};
    }),
    flattenRootfs: unary("FlattenRootfs", async (req: hostagent.FlattenRootfsRequest) => {
      const image = await templates.flattenRootfs(req.sandboxId, req.teamId, req.templateId);
      return { sizeBytes: BigInt(image.sizeBytes) };
    }),
    importImage: unary("ImportImage", async (req: hostagent.ImportImageRequest) => {
      const imported = await templates.importImage({
        teamId: req.teamId,
        templateId: req.templateId,
        image: req.image,
        username: req.username,
        password: req.password,
        diskSizeMb: req.diskSizeMb,
      });
      return { sizeBytes: BigInt(imported.sizeBytes), digest: imported.digest };
    }),
  };
}
