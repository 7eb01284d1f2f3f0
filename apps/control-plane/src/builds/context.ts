import { createHash } from "node:crypto";
import { errors } from "@wrenn/common";
import { TruncatedTarError, tarEntries } from "@wrenn/images/oci";
import type { BuildStep } from "./steps.ts";

/** One regular file of an uploaded build context. */
export interface ContextFile {
  /** Normalised relative path (`dir/file.txt`, no leading `./`, no `..`). */
  path: string;
  mode: number;
  content: Buffer;
}

/** Normalises a context path; refuses absolute paths and `..` (they would escape the context). */
export function contextPath(raw: string): string {
  const parts = raw
    .replace(/\\/g, "/")
    .split("/")
    .filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..") || raw.startsWith("/")) {
    throw errors.invalidArgument(`build context path ${JSON.stringify(raw)} must be relative, without '..'`);
  }
  return parts.join("/");
}

/**
 * Reads the regular files of a tar archive (ustar, GNU long names, PAX
 * paths; gzip-compressed or not). Directories, links and devices are skipped:
 * a build context only supplies file contents.
 */
export function readTar(archive: Buffer): ContextFile[] {
  const files: ContextFile[] = [];
  try {
    for (const entry of tarEntries(archive)) {
      if (entry.type !== "file") continue;
      const path = contextPath(entry.path);
      if (path) files.push({ path, mode: entry.mode, content: entry.data });
    }
  } catch (err) {
    if (err instanceof TruncatedTarError)
      throw errors.invalidArgument("build context: truncated tar archive");
    throw err;
  }
  return files;
}

/** The context files a COPY source names: the file itself, or everything below a directory (`.` = all). */
export function filesFor(src: string, files: ContextFile[]): { file: ContextFile; relative: string }[] {
  const base = contextPath(src);
  if (base === "") return files.map((file) => ({ file, relative: file.path }));
  const exact = files.find((f) => f.path === base);
  if (exact) return [{ file: exact, relative: base.split("/").pop() as string }];
  return files
    .filter((f) => f.path.startsWith(`${base}/`))
    .map((file) => ({ file, relative: file.path.slice(base.length + 1) }));
}

/** Content hash of what a COPY step copies (paths, modes and bytes), for cache keys. */
export function copyHash(step: Extract<BuildStep, { kind: "copy" }>, files: ContextFile[]): string {
  const h = createHash("sha256");
  for (const { file, relative } of filesFor(step.src, files)) {
    h.update(`${relative}\0${file.mode}\0${createHash("sha256").update(file.content).digest("hex")}\n`);
  }
  return h.digest("hex");
}

/** Checks that every COPY of `steps` finds at least one file; the error names the line. */
export function checkCopySources(steps: BuildStep[], files: ContextFile[]): void {
  for (const step of steps) {
    if (step.kind !== "copy") continue;
    if (filesFor(step.src, files).length === 0) {
      const where = step.line ? `line ${step.line}: ` : "";
      throw errors.invalidArgument(`${where}COPY source ${step.src} is not in the uploaded build context`);
    }
  }
}
