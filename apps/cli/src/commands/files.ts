import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadable } from "node:stream/web";
import { type EntryInfo, Sandbox } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { intFlag, parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { CliError, UsageError } from "../lib/errors.ts";
import { commandGroup } from "../lib/group.ts";
import { bytes, json, table } from "../lib/output.ts";
import { withSpinner } from "../lib/spinner.ts";

const USER_OPTION =
  "  --user NAME   user whose permissions and home (~, relative paths) apply (default: user)";

/** Counts the bytes flowing through, for the summary line and `onBytes` (progress). */
function counter(onBytes: (total: number) => void = () => {}) {
  let total = 0;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      total += chunk.byteLength;
      onBytes(total);
      controller.enqueue(chunk);
    },
  });
  return { stream, total: () => total };
}

/** `1.5 MiB` or `1.5 MiB / 3.0 MiB (50%)` when the size is known. */
function progress(done: number, size: number | undefined): string {
  if (!size) return bytes(done);
  return `${bytes(done)} / ${bytes(size)} (${Math.floor((done / size) * 100)}%)`;
}

/** The `--json` form of a directory entry (snake_case like the REST API). */
function entryJson(e: EntryInfo) {
  return {
    name: e.name,
    path: e.path,
    type: e.type ?? "other",
    size: e.size,
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modified_time: e.modifiedTime ? e.modifiedTime.toISOString() : null,
    symlink_target: e.symlinkTarget ?? null,
  };
}

const userOption = { user: { type: "string" } } as const satisfies Options;

const put: Subcommand = {
  summary: "Upload a local file (or - for stdin) into a sandbox",
  usage: `Usage: wrenn files put <id> <local-file|-> <remote-path> [--user NAME] [--json]

Streams the file into the sandbox (parent directories are created; an existing file is
replaced). A remote path ending in / is a directory: the local file's name is appended.

Options:
${USER_OPTION}
  --json        print {path, bytes}`,
  options: userOption,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, userOption);
    const [id, local, remoteArg] = positionalArgs(positionals, ["id", "local-file", "remote-path"]) as [
      string,
      string,
      string,
    ];
    let size: number | undefined;
    if (local !== "-") {
      const info = await stat(local).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${local}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
      });
      if (!info.isFile()) throw new CliError(`${local} is not a regular file`);
      size = info.size;
    }
    const remote = remoteArg.endsWith("/") && local !== "-" ? `${remoteArg}${basename(local)}` : remoteArg;
    const source = local === "-" ? process.stdin : createReadStream(local);
    const conn = await connection();
    const label = `Uploading to ${remote}`;
    const written = await withSpinner(
      label,
      async (spinner) => {
        const count = counter((n) => spinner.update(`${label}: ${progress(n, size)}`));
        const body = (Readable.toWeb(source) as ReadableStream<Uint8Array>).pipeThrough(count.stream);
        const sandbox = await Sandbox.connect(id, conn);
        const info = await sandbox.files.write(remote, body, { user: values.user, timeoutMs: 0 });
        spinner.update(`Uploaded ${bytes(count.total())} to ${info.path}`);
        return { path: info.path, bytes: count.total() };
      },
      { json: values.json },
    );
    if (values.json) process.stdout.write(json(written));
    else console.log(`Uploaded ${bytes(written.bytes)} to ${written.path}.`);
    return ExitCode.ok;
  },
};

const get: Subcommand = {
  summary: "Download a file from a sandbox (to stdout without a local path)",
  usage: `Usage: wrenn files get <id> <remote-path> [local-file|-] [--user NAME] [--json]

Streams the file out of the sandbox into local-file, or to standard output when it is '-'
or left out (wrenn files get sb-… /etc/os-release | grep NAME).

Options:
${USER_OPTION}
  --json        with a local file: print {path, bytes}`,
  options: userOption,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, userOption);
    const [id, remote, local = "-"] = positionalArgs(positionals, ["id", "remote-path"], ["local-file"]) as [
      string,
      string,
      string | undefined,
    ];
    if (local === "-" && values.json) {
      throw new UsageError("--json needs a local file (without one the file itself is the output)");
    }
    const sandbox = await Sandbox.connect(id, await connection());
    const open = () => sandbox.files.read(remote, { format: "stream", user: values.user, timeoutMs: 0 });
    if (local === "-") {
      // The data is the output: no progress, and stdout stays open (a plain pipe would end it).
      const count = counter();
      await pipeline(
        Readable.fromWeb((await open()).pipeThrough(count.stream) as NodeReadable),
        new Writable({ write: (chunk, _enc, done) => process.stdout.write(chunk, done) }),
      );
      return ExitCode.ok;
    }
    const label = `Downloading ${remote}`;
    const size = await withSpinner(
      label,
      async (spinner) => {
        const total = spinner.active
          ? (await sandbox.files.getInfo(remote, { user: values.user })).size
          : undefined;
        const count = counter((n) => spinner.update(`${label}: ${progress(n, total)}`));
        await pipeline(
          Readable.fromWeb((await open()).pipeThrough(count.stream) as NodeReadable),
          createWriteStream(local),
        );
        spinner.update(`Downloaded ${bytes(count.total())} to ${local}`);
        return count.total();
      },
      { json: values.json },
    );
    if (values.json) process.stdout.write(json({ path: local, bytes: size }));
    else console.error(`Downloaded ${bytes(size)} to ${local}.`);
    return ExitCode.ok;
  },
};

const lsOptions = { depth: { type: "string" }, ...userOption } as const satisfies Options;

const ls: Subcommand = {
  summary: "List a directory in a sandbox",
  usage: `Usage: wrenn files ls <id> [path] [--depth N] [--user NAME] [--json]

Lists the directory (default: the user's home); --depth N descends N levels.

Options:
  --depth N     levels to list, 1-10 (default 1)
${USER_OPTION}
  --json        print a JSON array of entries`,
  options: lsOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, lsOptions);
    const [id, path] = positionalArgs(positionals, ["id"], ["path"]) as [string, string | undefined];
    const sandbox = await Sandbox.connect(id, await connection());
    const dir = path ?? (values.user === "root" ? "/root" : `/home/${values.user ?? "user"}`);
    const entries = await sandbox.files.list(dir, {
      depth: intFlag("depth", values.depth, 1, 10) ?? 1,
      user: values.user,
    });
    const rows = entries.map(entryJson);
    if (values.json) process.stdout.write(json(rows));
    else {
      console.log(
        table(rows, [
          { header: "PERMISSIONS", value: (e) => e.permissions },
          { header: "OWNER", value: (e) => e.owner },
          { header: "SIZE", value: (e) => String(e.size), right: true },
          { header: "MODIFIED", value: (e) => (e.modified_time ?? "-").replace(/\.\d+Z$/, "Z") },
          {
            header: "NAME",
            value: (e) =>
              `${path && (values.depth ?? "1") === "1" ? e.name : e.path}${e.type === "dir" ? "/" : ""}${e.symlink_target ? ` -> ${e.symlink_target}` : ""}`,
          },
        ]),
      );
    }
    return ExitCode.ok;
  },
};

/** `wrenn files put|get|ls`. */
export const command = commandGroup("files", "Move files in and out of sandboxes", { put, get, ls });
