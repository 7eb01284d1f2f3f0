import type { hostagent } from "@wrenn/proto";
import type { SandboxManager } from "../../sandbox/manager.ts";
import { readFileStream, splitWriteStream, writeFileStream } from "../file-stream.ts";
import * as guest from "../guest.ts";
import type { ErrorMapping, HandlersOf } from "./context.ts";

/** Files in the guest: whole and streamed reads and writes, listing, mkdir and remove. */
export function fileHandlers(
  manager: SandboxManager,
  { unary, streaming }: ErrorMapping,
): HandlersOf<
  "readFile" | "writeFile" | "streamReadFile" | "streamWriteFile" | "listDir" | "makeDir" | "removePath"
> {
  return {
    readFile: unary("ReadFile", async (req: hostagent.ReadFileRequest) => ({
      content: await guest.readFile(manager.envd(req.sandboxId), req.path, req.user),
    })),
    writeFile: unary("WriteFile", async (req: hostagent.WriteFileRequest) => ({
      entry: await guest.writeFile(manager.envd(req.sandboxId), req.path, req.user, req.content),
    })),
    streamReadFile: streaming("StreamReadFile", async function* (req: hostagent.StreamReadFileRequest, ctx) {
      const envd = manager.envd(req.sandboxId);
      const stat = await envd.filesystem.stat({ path: req.path }, { headers: envd.headers(req.user) });
      yield { payload: { case: "entry" as const, value: guest.toFileEntry(stat.entry) ?? {} } };
      for await (const chunk of readFileStream(envd, req.path, req.user, req.chunkSizeBytes, ctx.signal)) {
        yield { payload: { case: "chunk" as const, value: chunk } };
      }
    }),
    streamWriteFile: unary(
      "StreamWriteFile",
      async (stream: AsyncIterable<hostagent.StreamWriteFileRequest>, ctx) => {
        const { meta, chunks } = await splitWriteStream(stream);
        const envd = manager.envd(meta.sandboxId);
        return { entry: await writeFileStream(envd, meta.path, meta.user, chunks, ctx.signal) };
      },
    ),
    listDir: unary("ListDir", async (req: hostagent.ListDirRequest) => {
      const envd = manager.envd(req.sandboxId);
      const res = await envd.filesystem.listDir(
        { path: req.path, depth: req.depth || 1 },
        { headers: envd.headers(req.user) },
      );
      return { entries: res.entries.map((e) => guest.toFileEntry(e) ?? {}) };
    }),
    makeDir: unary("MakeDir", async (req: hostagent.MakeDirRequest) => {
      const envd = manager.envd(req.sandboxId);
      const res = await envd.filesystem.makeDir({ path: req.path }, { headers: envd.headers(req.user) });
      return { entry: guest.toFileEntry(res.entry) };
    }),
    removePath: unary("RemovePath", async (req: hostagent.RemovePathRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.filesystem.remove({ path: req.path }, { headers: envd.headers(req.user) });
      return {};
    }),
  };
}
