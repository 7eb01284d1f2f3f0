import { errors } from "@wrenn/common";
import { hostagent } from "@wrenn/proto";
import { callAgent } from "../hosts/pool.ts";
import type { AuthContext } from "./auth-context.ts";
import type { SandboxesService } from "./sandboxes.ts";

/** A file system entry in a sandbox, as the API shows it. */
export interface FileEntryView {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink" | "unknown";
  size: number;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modified_at: string | null;
  symlink_target?: string;
}

const typeNames: Record<hostagent.FileType, FileEntryView["type"]> = {
  [hostagent.FileType.UNSPECIFIED]: "unknown",
  [hostagent.FileType.FILE]: "file",
  [hostagent.FileType.DIRECTORY]: "dir",
  [hostagent.FileType.SYMLINK]: "symlink",
};

/** The API form of an agent FileEntry. */
export function fileEntryView(e: hostagent.FileEntry | undefined): FileEntryView {
  if (!e) throw errors.internal("host agent answered without a file entry");
  return {
    name: e.name,
    path: e.path,
    type: typeNames[e.type] ?? "unknown",
    size: Number(e.sizeBytes),
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modified_at: e.modifiedAt ? new Date(Number(e.modifiedAt.seconds) * 1000).toISOString() : null,
    ...(e.symlinkTarget !== undefined ? { symlink_target: e.symlinkTarget } : {}),
  };
}

/** Guest paths: absolute or relative to the user's home; never empty or with NUL bytes. */
export function checkGuestPath(path: string): string {
  if (!path || path.length > 4096 || path.includes("\0")) {
    throw errors.invalidArgument("path must be 1-4096 characters without NUL bytes");
  }
  return path;
}

/** A file being read: its entry first (for Content-Length), then its bytes as a stream. */
export interface FileDownload {
  entry: FileEntryView;
  body: ReadableStream<Uint8Array>;
}

/** Files inside a running sandbox, through its host agent (which talks to envd). */
export class SandboxFilesService {
  constructor(private readonly sandboxes: SandboxesService) {}

  /** Creates or replaces a file (parents created). */
  async write(auth: AuthContext, id: string, path: string, content: Uint8Array): Promise<FileEntryView> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "write files in");
    const res = await callAgent("write the file", () =>
      agent.writeFile({ sandboxId: agentId, path: checkGuestPath(path), content, user: "" }),
    );
    return fileEntryView(res.entry);
  }

  /**
   * Streams `body` into a file without buffering it here (first message
   * metadata, then chunks); the file is replaced once every chunk arrived.
   * More than `maxBytes` fails with `invalid_argument`.
   */
  async writeStream(
    auth: AuthContext,
    id: string,
    path: string,
    body: ReadableStream<Uint8Array>,
    maxBytes: number,
  ): Promise<FileEntryView> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "write files in");
    checkGuestPath(path);
    let tooLarge = false;
    async function* messages() {
      yield { payload: { case: "metadata" as const, value: { sandboxId: agentId, path, user: "" } } };
      let total = 0;
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > maxBytes) {
          tooLarge = true;
          throw errors.invalidArgument(`file exceeds ${maxBytes} bytes`);
        }
        yield { payload: { case: "chunk" as const, value: chunk } };
      }
    }
    try {
      const res = await callAgent("write the file", () => agent.streamWriteFile(messages()));
      return fileEntryView(res.entry);
    } catch (err) {
      if (tooLarge) throw errors.invalidArgument(`file exceeds ${maxBytes} bytes`);
      throw err;
    }
  }

  /**
   * Streams a file out of the sandbox: errors before the first byte (missing
   * file, wrong state) are thrown here; later ones abort the stream.
   */
  async read(auth: AuthContext, id: string, path: string): Promise<FileDownload> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "read files in");
    const abort = new AbortController();
    const iterator = agent
      .streamReadFile({ sandboxId: agentId, path: checkGuestPath(path), user: "" }, { signal: abort.signal })
      [Symbol.asyncIterator]();
    const first = await callAgent("read the file", () => iterator.next());
    if (first.done || first.value.payload.case !== "entry") {
      throw errors.internal("host agent did not start the file with its entry");
    }
    const entry = fileEntryView(first.value.payload.value);
    if (entry.type === "dir") {
      abort.abort();
      throw errors.invalidArgument(`${path} is a directory`);
    }
    const body = new ReadableStream<Uint8Array>({
      // One agent message per pull keeps the agent (and envd) at the reader's pace. A pull
      // that enqueued nothing would not be called again, so skip non-chunk messages here.
      async pull(controller) {
        try {
          for (;;) {
            const next = await iterator.next();
            if (next.done) return controller.close();
            if (next.value.payload.case === "chunk") return controller.enqueue(next.value.payload.value);
          }
        } catch (err) {
          controller.error(err);
        }
      },
      cancel() {
        abort.abort();
      },
    });
    return { entry, body };
  }

  /** Entries below a directory, down to `depth` levels. */
  async list(auth: AuthContext, id: string, path: string, depth: number): Promise<FileEntryView[]> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "list files in");
    const res = await callAgent("list the directory", () =>
      agent.listDir({ sandboxId: agentId, path: checkGuestPath(path), depth, user: "" }),
    );
    return res.entries.map(fileEntryView);
  }

  /** Creates a directory and its parents. */
  async mkdir(auth: AuthContext, id: string, path: string): Promise<FileEntryView> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "create directories in");
    const res = await callAgent("create the directory", () =>
      agent.makeDir({ sandboxId: agentId, path: checkGuestPath(path), user: "" }),
    );
    return fileEntryView(res.entry);
  }

  /** Removes a file or a directory tree. */
  async remove(auth: AuthContext, id: string, path: string): Promise<void> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "remove files in");
    await callAgent("remove the path", () =>
      agent.removePath({ sandboxId: agentId, path: checkGuestPath(path), user: "" }),
    );
  }
}
