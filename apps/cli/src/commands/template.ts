import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { type BuildInfo, type BuildLogEntry, type TemplateBuildOptions, Templates } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { intFlag, parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { UsageError } from "../lib/errors.ts";
import { commandGroup } from "../lib/group.ts";
import { ago, bytes, json, printable, table } from "../lib/output.ts";

/** True when `text` is a Dockerfile (its first instruction is FROM) rather than a Wrenn recipe. */
export function looksLikeDockerfile(path: string, text: string): boolean {
  if (/dockerfile|containerfile/i.test(basename(path))) return true;
  const first = text.split("\n").find((line) => line.trim() !== "" && !line.trim().startsWith("#"));
  return /^\s*FROM\s/i.test(first ?? "");
}

/** The COPY / ADD sources a recipe or Dockerfile names (flags and the destination dropped). */
export function copySources(text: string): string[] {
  const out: string[] = [];
  for (const line of text.replace(/\\\n/g, " ").split("\n")) {
    const m = /^\s*(COPY|ADD)\s+(.+)$/i.exec(line);
    if (!m) continue;
    const words = (m[2] ?? "")
      .trim()
      .split(/\s+/)
      .filter((w) => !w.startsWith("--"));
    out.push(...words.slice(0, -1));
  }
  return out;
}

/** Reads the files COPY needs from `contextDir` (a source may be a file or a directory). */
export function contextFiles(
  contextDir: string,
  sources: string[],
): Record<string, { content: Uint8Array; mode: number }> {
  const files: Record<string, { content: Uint8Array; mode: number }> = {};
  const add = (abs: string) => {
    const st = statSync(abs);
    if (st.isDirectory()) {
      for (const entry of readdirSync(abs)) add(join(abs, entry));
    } else if (st.isFile()) {
      files[relative(contextDir, abs).split("\\").join("/")] = {
        content: readFileSync(abs),
        mode: st.mode & 0o7777,
      };
    }
  };
  for (const src of sources) {
    const abs = join(contextDir, src);
    if (relative(contextDir, abs).startsWith(".."))
      throw new UsageError(`COPY source ${src} is outside the context`);
    try {
      add(abs);
    } catch {
      throw new UsageError(`COPY source ${src} not found in ${contextDir}`);
    }
  }
  return files;
}

/** One progress line: `[#####-----] 3/5 RUN …`. */
export function progressLine(build: BuildInfo, width = 20): string {
  const done = build.totalSteps ? Math.round((build.currentStep / build.totalSteps) * width) : 0;
  const running = build.steps.find((s) => s.status === "running");
  const what = running ? running.description : build.status;
  return `[${"#".repeat(done)}${"-".repeat(width - done)}] ${build.currentStep}/${build.totalSteps} ${printable(what).slice(0, 60)}`;
}

function buildRow(build: BuildInfo) {
  return {
    id: build.buildId,
    name: build.name,
    status: build.status,
    current_step: build.currentStep,
    total_steps: build.totalSteps,
    error: build.error,
    failed_step: build.failedStep,
    template_id: build.templateId,
    created_at: build.createdAt.toISOString(),
    completed_at: build.completedAt?.toISOString() ?? null,
  };
}

const buildOptions = {
  file: { type: "string", short: "f" },
  name: { type: "string" },
  context: { type: "string" },
  follow: { type: "boolean", default: false },
  from: { type: "string" },
  vcpus: { type: "string" },
  memory: { type: "string" },
  disk: { type: "string" },
  "skip-cache": { type: "boolean", default: false },
  "skip-pre-post": { type: "boolean", default: false },
} as const satisfies Options;

const build: Subcommand = {
  summary: "Build a template from a recipe or a Dockerfile",
  usage: `Usage: wrenn template build -f FILE --name NAME [--follow] [options] [--json]

FILE is a Wrenn recipe (RUN, ENV, COPY, WORKDIR, USER, START, READY) or a Dockerfile
(recognised by its name or a first FROM instruction). FROM (and --from) name a Wrenn template,
or an OCI image when the name has a registry, namespace, tag or digest (debian:12,
ghcr.io/org/img:1); the image is pulled by a host and converted once per digest. The files
COPY/ADD name are uploaded from the context directory. The build runs on the control plane;
without --follow this prints the queued build and returns.

Options:
  -f, --file FILE       the recipe or Dockerfile
  --name NAME           the template to make (replaces the team's template of that name)
  --context DIR         where COPY sources are read (default: FILE's directory)
  --follow              stream the build's logs with a progress bar until it ends
  --from BASE           base of a recipe: a template (default minimal) or an OCI image
  --vcpus N, --memory MB, --disk MB   the build sandbox's (and template's) shape
  --skip-cache          run every step again instead of reusing cached layers
  --skip-pre-post       skip apt-get update before and the apt clean-up after
  --json                print the build as JSON (with --follow: the final build)

Exit status with --follow: 0 when the template is ready, 1 when the build failed or was cancelled.`,
  options: buildOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, buildOptions);
    positionalArgs(positionals, []);
    if (!values.file) throw new UsageError("missing -f FILE");
    if (!values.name) throw new UsageError("missing --name NAME");
    let text: string;
    try {
      text = readFileSync(values.file, "utf8");
    } catch {
      throw new UsageError(`cannot read ${values.file}`);
    }
    const dockerfile = looksLikeDockerfile(values.file, text);
    const contextDir = values.context ?? dirname(values.file);
    const options: TemplateBuildOptions = {
      ...(await connection()),
      name: values.name,
      ...(dockerfile ? { dockerfile: text } : { recipe: text }),
      files: contextFiles(contextDir, copySources(text)),
      ...(values.from ? { from: values.from } : {}),
      ...(values.vcpus ? { vcpus: intFlag("vcpus", values.vcpus, 1, 64) } : {}),
      ...(values.memory ? { memoryMb: intFlag("memory", values.memory, 128, 1_048_576) } : {}),
      ...(values.disk ? { diskSizeMb: intFlag("disk", values.disk, 512, 10_485_760) } : {}),
      skipCache: values["skip-cache"],
      skipPrePost: values["skip-pre-post"],
    };
    const queued = await Templates.buildInBackground(options);
    if (!values.follow) {
      if (values.json) process.stdout.write(json(buildRow(queued)));
      else
        console.log(
          `Queued build ${queued.buildId} of template ${queued.name} (${queued.totalSteps} steps).`,
        );
      return ExitCode.ok;
    }
    const tty = process.stderr.isTTY && !values.json;
    let bar = "";
    const clearBar = () => {
      if (tty && bar) process.stderr.write("\r\x1b[2K");
    };
    const drawBar = () => {
      if (tty && bar) process.stderr.write(`\r\x1b[2K${bar}`);
    };
    const final = await Templates.waitForBuild(queued.buildId, {
      ...options,
      onLog: (entry: BuildLogEntry) => {
        if (values.json) return;
        clearBar();
        const text = entry.stream === "system" ? `==> ${entry.message}\n` : entry.message;
        (entry.stream === "stderr" ? process.stderr : process.stdout).write(
          text.endsWith("\n") ? text : `${text}\n`,
        );
        drawBar();
      },
      onProgress: (build) => {
        bar = progressLine(build);
        if (tty) drawBar();
        else if (!values.json) process.stderr.write(`${bar}\n`);
      },
    });
    clearBar();
    if (values.json) process.stdout.write(json(buildRow(final)));
    else if (final.status === "ready") console.log(`Template ${final.name} is ready (${final.templateId}).`);
    else console.error(`Build ${final.buildId} ${final.status}${final.error ? `: ${final.error}` : ""}`);
    return final.status === "ready" ? ExitCode.ok : ExitCode.failure;
  },
};

const list: Subcommand = {
  summary: "List the team's templates and the platform's",
  usage: "Usage: wrenn template list [--json]",
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    positionalArgs(positionals, []);
    const templates = await Templates.list(await connection());
    if (values.json) process.stdout.write(json(templates));
    else {
      console.log(
        table(templates, [
          { header: "NAME", value: (t) => t.name },
          { header: "ID", value: (t) => t.snapshotId },
          { header: "TYPE", value: (t) => t.type },
          { header: "VCPUS", value: (t) => String(t.vcpus), right: true },
          { header: "MEMORY", value: (t) => `${t.memoryMb} MB`, right: true },
          { header: "SIZE", value: (t) => bytes(t.sizeBytes), right: true },
          { header: "CREATED", value: (t) => ago(t.createdAt) },
        ]),
      );
    }
    return ExitCode.ok;
  },
};

const remove: Subcommand = {
  summary: "Delete templates by name (their files on every host too)",
  usage: "Usage: wrenn template delete <name>… [--json]",
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    if (positionals.length === 0) throw new UsageError("missing <name>");
    const conn = await connection();
    for (const name of positionals) {
      await Templates.delete(name, conn);
      if (!values.json) console.log(`Deleted template ${name}.`);
    }
    if (values.json) process.stdout.write(json({ deleted: positionals }));
    return ExitCode.ok;
  },
};

const buildsOptions = { name: { type: "string" } } as const satisfies Options;

const builds: Subcommand = {
  summary: "List builds, newest first",
  usage: `Usage: wrenn template builds [--name NAME] [--json]

Options:
  --name NAME   only builds of this template`,
  options: buildsOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, buildsOptions);
    positionalArgs(positionals, []);
    const list = await Templates.listBuilds({
      ...(await connection()),
      ...(values.name ? { name: values.name } : {}),
    });
    if (values.json) process.stdout.write(json(list.map(buildRow)));
    else {
      console.log(
        table(list, [
          { header: "ID", value: (build) => build.buildId },
          { header: "TEMPLATE", value: (build) => build.name },
          { header: "STATUS", value: (build) => build.status },
          { header: "STEP", value: (build) => `${build.currentStep}/${build.totalSteps}`, right: true },
          { header: "CREATED", value: (build) => ago(build.createdAt) },
          {
            header: "ERROR",
            value: (build) => printable((build.error ?? "").split("\n")[0] ?? "").slice(0, 60),
          },
        ]),
      );
    }
    return ExitCode.ok;
  },
};

const cancel: Subcommand = {
  summary: "Cancel a queued or running build",
  usage: "Usage: wrenn template cancel <build-id> [--json]",
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    const [id] = positionalArgs(positionals, ["build-id"]) as [string];
    const build = await Templates.cancelBuild(id, await connection());
    if (values.json) process.stdout.write(json(buildRow(build)));
    else console.log(`Cancelled build ${build.buildId} of template ${build.name}.`);
    return ExitCode.ok;
  },
};

/** `wrenn template build|list|delete|builds|cancel`. */
export const command = commandGroup(
  "template",
  "Build templates from recipes or Dockerfiles; list, delete, follow builds",
  {
    build,
    list,
    delete: remove,
    builds,
    cancel,
  },
);
