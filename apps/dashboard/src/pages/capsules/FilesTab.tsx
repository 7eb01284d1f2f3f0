import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { type FormEvent, useRef, useState } from "react";
import { errorMessage } from "../../api/client.ts";
import {
  type FileEntry,
  listFiles,
  makeDir,
  readFile,
  removePath,
  saveBlob,
  uploadFile,
} from "../../api/sandboxes.ts";
import {
  Button,
  type Column,
  ConfirmDialog,
  Dialog,
  formatBytes,
  formatDate,
  Loading,
  QueryView,
  Table,
  useToast,
} from "../../ui/index.ts";
import { EntryIcon } from "./EntryIcon.tsx";
import { breadcrumbs, childPath } from "./search.ts";

/** Largest file the viewer opens inline (bigger ones are downloaded). */
const VIEW_MAX_BYTES = 1024 * 1024;

/** True when the bytes look like text (no NUL in the first 8 KiB and valid UTF-8). */
export function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(
      head.length < bytes.length ? head.subarray(0, lastCompleteChar(head)) : head,
    );
    return true;
  } catch {
    return false;
  }
}

// Cutting 8 KiB out of a UTF-8 stream may split a character; drop a trailing partial one.
function lastCompleteChar(b: Uint8Array): number {
  const i = b.length;
  for (let back = 1; back <= 3 && i - back >= 0; back++) {
    const c = b[i - back] ?? 0;
    if ((c & 0xc0) === 0x80) continue;
    if (c >= 0xc0) return i - back;
    break;
  }
  return i;
}

/**
 * The capsule's file browser: the directory in the URL (`?path=`), navigate, make directories,
 * delete, upload with a progress bar, download, and view text files.
 */
export function FilesTab({ sandboxId, path }: { sandboxId: string; path: string }) {
  const navigate = useNavigate({ from: "/capsules/$id" });
  const queryClient = useQueryClient();
  const toast = useToast();
  const key = ["sandboxes", "files", sandboxId, path] as const;
  const entries = useQuery({ queryKey: key, queryFn: () => listFiles(sandboxId, path) });
  const [mkdirName, setMkdirName] = useState("");
  const [mkdirError, setMkdirError] = useState<string>();
  const [progress, setProgress] = useState<{ name: string; fraction: number }>();
  const [deleting, setDeleting] = useState<FileEntry>();
  const [viewing, setViewing] = useState<{ entry: FileEntry; text?: string; error?: string }>();
  const fileInput = useRef<HTMLInputElement>(null);
  const go = (p: string) => void navigate({ search: (s) => ({ ...s, path: p }) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["sandboxes", "files", sandboxId] });

  const mkdir = async (e: FormEvent) => {
    e.preventDefault();
    setMkdirError(undefined);
    let target: string;
    try {
      target = childPath(path, mkdirName.trim());
    } catch (err) {
      setMkdirError(errorMessage(err));
      return;
    }
    try {
      await makeDir(sandboxId, target);
      setMkdirName("");
      toast(`Created ${target}`, "success");
      await refresh();
    } catch (err) {
      setMkdirError(errorMessage(err));
    }
  };

  const upload = async (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) {
      setProgress({ name: file.name, fraction: 0 });
      try {
        await uploadFile(sandboxId, childPath(path, file.name), file, (fraction) =>
          setProgress({ name: file.name, fraction }),
        );
        toast(`Uploaded ${file.name}`, "success");
      } catch (err) {
        toast(`${file.name}: ${errorMessage(err)}`, "error");
      }
    }
    setProgress(undefined);
    if (fileInput.current) fileInput.current.value = "";
    await refresh();
  };

  const download = async (f: FileEntry) => {
    try {
      saveBlob(await readFile(sandboxId, f.path), f.name);
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  };

  const view = async (f: FileEntry) => {
    if (f.size > VIEW_MAX_BYTES) {
      setViewing({ entry: f, error: `This file is ${formatBytes(f.size)}; download it instead.` });
      return;
    }
    setViewing({ entry: f });
    try {
      const bytes = new Uint8Array(await (await readFile(sandboxId, f.path)).arrayBuffer());
      setViewing(
        looksLikeText(bytes)
          ? { entry: f, text: new TextDecoder().decode(bytes) }
          : { entry: f, error: "This is a binary file; download it instead." },
      );
    } catch (err) {
      setViewing({ entry: f, error: errorMessage(err) });
    }
  };

  const columns: Column<FileEntry>[] = [
    {
      header: "Name",
      cell: (f) =>
        f.type === "dir" ? (
          <button
            type="button"
            className="link-btn file-link"
            onClick={() => go(f.path)}
            data-testid={`file-open-${f.name}`}
          >
            <EntryIcon type="dir" /> {f.name}/
          </button>
        ) : (
          <button
            type="button"
            className="link-btn file-link"
            onClick={() => void view(f)}
            data-testid={`file-view-${f.name}`}
          >
            <EntryIcon type={f.type} /> {f.name}
          </button>
        ),
    },
    { header: "Size", align: "right", cell: (f) => (f.type === "dir" ? "—" : formatBytes(f.size)) },
    {
      header: "Permissions",
      secondary: true,
      cell: (f) => <span className="mono small">{f.permissions}</span>,
    },
    { header: "Modified", secondary: true, cell: (f) => formatDate(f.modified_at) },
    {
      header: "Actions",
      align: "right",
      cell: (f) => (
        <div className="row" style={{ justifyContent: "flex-end", flexWrap: "nowrap" }}>
          {f.type !== "dir" ? (
            <Button
              size="sm"
              onClick={() => void download(f)}
              data-testid={`file-download-${f.name}`}
              aria-label={`Download ${f.name}`}
            >
              Download
            </Button>
          ) : null}
          <Button
            size="sm"
            variant="ghost"
            onClick={() => setDeleting(f)}
            data-testid={`file-delete-${f.name}`}
            aria-label={`Delete ${f.name}`}
          >
            Delete
          </Button>
        </div>
      ),
    },
  ];

  const sorted = [...(entries.data ?? [])].sort((a, b) =>
    a.type === "dir" && b.type !== "dir"
      ? -1
      : b.type === "dir" && a.type !== "dir"
        ? 1
        : a.name.localeCompare(b.name),
  );

  return (
    <section aria-label="Files" data-testid="capsule-files">
      <nav className="breadcrumbs" aria-label="Directory" data-testid="file-breadcrumbs">
        {breadcrumbs(path).map((c, i, all) => (
          <span key={c.path}>
            {i === all.length - 1 ? (
              <strong aria-current="location">{c.name}</strong>
            ) : (
              <button type="button" onClick={() => go(c.path)}>
                {c.name}
              </button>
            )}
            {i > 0 && i < all.length - 1 ? <span className="muted">/</span> : null}
          </span>
        ))}
      </nav>
      <div className="toolbar">
        <form onSubmit={mkdir} className="row" noValidate>
          <label className="sr-only" htmlFor="mkdir-name">
            New folder name
          </label>
          <input
            id="mkdir-name"
            data-testid="mkdir-name"
            placeholder="new-folder"
            value={mkdirName}
            onChange={(e) => setMkdirName(e.target.value)}
            aria-invalid={mkdirError ? true : undefined}
          />
          <Button type="submit" size="sm" disabled={!mkdirName.trim()} data-testid="mkdir-submit">
            New folder
          </Button>
        </form>
        <label className="btn btn-primary btn-sm" data-testid="upload-label">
          Upload files
          <input
            ref={fileInput}
            type="file"
            multiple
            className="sr-only"
            data-testid="upload-input"
            onChange={(e) => void upload(e.target.files)}
          />
        </label>
        <Button size="sm" variant="ghost" onClick={() => void refresh()}>
          Refresh
        </Button>
      </div>
      {mkdirError ? (
        <p className="form-error" role="alert">
          {mkdirError}
        </p>
      ) : null}
      {progress ? (
        <div className="panel" data-testid="upload-progress" style={{ marginBottom: 12 }}>
          <label>
            Uploading {progress.name}: {Math.round(progress.fraction * 100)}%
            <progress max={1} value={progress.fraction} />
          </label>
        </div>
      ) : null}
      <QueryView query={entries} loadingLabel="Loading files">
        {() => (
          <Table
            caption={`Files in ${path}`}
            testId="files-table"
            columns={columns}
            rows={sorted}
            rowKey={(f) => f.path}
            rowTestId={(f) => `file-row-${f.name}`}
            empty="This directory is empty."
          />
        )}
      </QueryView>
      <Dialog
        open={viewing !== undefined}
        title={viewing?.entry.path ?? ""}
        onClose={() => setViewing(undefined)}
        wide
        testId="file-viewer"
      >
        {viewing?.error ? (
          <p className="form-error">{viewing.error}</p>
        ) : viewing?.text !== undefined ? (
          <pre className="file-view" data-testid="file-viewer-text">
            {viewing.text}
          </pre>
        ) : (
          <Loading label="Reading the file" />
        )}
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title={deleting?.type === "dir" ? "Delete folder" : "Delete file"}
        body={
          <p>
            Delete <code>{deleting?.path}</code>
            {deleting?.type === "dir" ? " and everything in it" : ""}?
          </p>
        }
        actionLabel="Delete"
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          if (!deleting) return;
          await removePath(sandboxId, deleting.path);
          toast(`Deleted ${deleting.path}`, "success");
          await refresh();
        }}
      />
    </section>
  );
}
