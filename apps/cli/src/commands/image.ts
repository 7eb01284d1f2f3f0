import {
  type BuildProgress,
  buildGuestImage,
  listGuestImages,
  pruneGuestImages,
  resolveGuestImage,
} from "@wrenn/images";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { intFlag, parse, positionalArgs } from "../lib/args.ts";
import { UsageError } from "../lib/errors.ts";
import { commandGroup } from "../lib/group.ts";
import { ago, bytes, details, json, table } from "../lib/output.ts";
import { Spinner } from "../lib/spinner.ts";

const DATA_DIR = `  --data-dir DIR   where images live (default $WRENN_DATA_DIR, else /var/lib/wrenn); images are
                   in <data-dir>/images/base/<hash>/`;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The human line of a progress report (undefined: nothing to print). */
function progressLine(e: BuildProgress): string {
  switch (e.status) {
    case "start":
      return `==> ${e.step}: ${e.message}`;
    case "done":
      return `    ${e.step} done in ${seconds(e.elapsedMs ?? 0)}: ${e.message}`;
    case "cached":
      return `==> ${e.message}`;
    default:
      return `    ${e.message}`;
  }
}

const buildOptions = {
  force: { type: "boolean", default: false },
  keep: { type: "string" },
  "data-dir": { type: "string" },
} as const satisfies Options;

const build: Subcommand = {
  summary: "Build the guest image (cached by a hash of its inputs)",
  usage: `Usage: wrenn image build [--force] [--keep N] [--data-dir DIR] [--json]

Builds the guest kernel, initramfs and rootfs; an image whose inputs did not change is reused.
Progress lines go to stdout (stderr with --json); a terminal also shows the running step.

Options:
  --force          build again even when an image with the same inputs exists
  --keep N         after a new build keep only the newest N images (default 3)
${DATA_DIR}
  --json           print {hash, dir, cached, seconds}`,
  options: buildOptions,
  async run(argv) {
    const { values, positionals } = parse(argv, buildOptions);
    positionalArgs(positionals, []);
    const keep = intFlag("keep", values.keep, 1, 1000);
    const started = performance.now();
    const spinner = Spinner.start("Building the guest image", { json: values.json });
    const print = (line: string) =>
      spinner.log(line, (t) => (values.json ? process.stderr : process.stdout).write(t));
    let image: Awaited<ReturnType<typeof buildGuestImage>>;
    try {
      image = await buildGuestImage({
        dataDir: values["data-dir"],
        force: values.force,
        keep,
        onProgress: (e) => {
          print(progressLine(e));
          if (e.status === "start") spinner.update(`${e.step}: ${e.message}`);
          if (e.status === "done") spinner.update("Building the guest image");
        },
      });
    } catch (err) {
      spinner.fail();
      throw err;
    }
    const took = Math.round((performance.now() - started) / 100) / 10;
    spinner.succeed(image.cached ? "guest image up to date" : "guest image built");
    if (values.json) {
      process.stdout.write(json({ hash: image.hash, dir: image.dir, cached: image.cached, seconds: took }));
    } else {
      const verb = image.cached ? "up to date" : "built";
      console.log(`guest image ${image.hash} ${verb} in ${took.toFixed(1)}s: ${image.dir}`);
    }
    return ExitCode.ok;
  },
};

const infoOptions = {
  "data-dir": { type: "string" },
  all: { type: "boolean", default: false },
} as const satisfies Options;

const info: Subcommand = {
  summary: "Show the newest guest image (or list all)",
  usage: `Usage: wrenn image info [--all] [--data-dir DIR] [--json]

Options:
  --all            list every image, newest first
${DATA_DIR}
  --json           print the manifest (with --all: an array of {hash, dir, manifest})`,
  options: infoOptions,
  async run(argv) {
    const { values, positionals } = parse(argv, infoOptions);
    positionalArgs(positionals, []);
    if (values.all) {
      const images = await listGuestImages(values["data-dir"]);
      if (values.json) {
        process.stdout.write(json(images.map((i) => ({ hash: i.hash, dir: i.dir, manifest: i.manifest }))));
        return ExitCode.ok;
      }
      console.log(
        table(images, [
          { header: "HASH", value: (i) => i.hash },
          { header: "BUILT", value: (i) => `${i.manifest.builtAt} (${ago(i.manifest.builtAt)})` },
          { header: "KERNEL", value: (i) => i.manifest.kernelVersion },
          { header: "ENVD", value: (i) => i.manifest.envdVersion },
          { header: "DIR", value: (i) => i.dir },
        ]),
      );
      return ExitCode.ok;
    }
    const image = await resolveGuestImage(values["data-dir"]);
    const m = image.manifest;
    if (values.json) process.stdout.write(json({ dir: image.dir, ...m }));
    else {
      console.log(
        details([
          ["Hash", m.hash],
          ["Dir", image.dir],
          ["Built", `${m.builtAt} (${ago(m.builtAt)}, in ${seconds(m.buildDurationMs)})`],
          ["Kernel", m.kernelVersion],
          ["envd", m.envdVersion],
          ["Node", m.nodeVersion],
          ["Debian", m.debian.suite],
          ["Rootfs", bytes(m.artifacts.rootfs.contentBytes)],
        ]),
      );
    }
    return ExitCode.ok;
  },
};

const pruneOptions = { "data-dir": { type: "string" }, keep: { type: "string" } } as const satisfies Options;

const prune: Subcommand = {
  summary: "Delete all but the newest N images",
  usage: `Usage: wrenn image prune --keep N [--data-dir DIR] [--json]

Options:
  --keep N         how many of the newest images stay (required, at least 1)
${DATA_DIR}
  --json           print {removed: [hash…]}`,
  options: pruneOptions,
  async run(argv) {
    const { values, positionals } = parse(argv, pruneOptions);
    positionalArgs(positionals, []);
    const keep = intFlag("keep", values.keep, 1, 1000);
    if (keep === undefined) throw new UsageError("--keep N (N >= 1) is required");
    const removed = await pruneGuestImages({ dataDir: values["data-dir"], keep });
    if (values.json) {
      process.stdout.write(json({ removed: removed.map((i) => i.hash) }));
      return ExitCode.ok;
    }
    for (const image of removed) console.log(`removed ${image.hash} (built ${image.manifest.builtAt})`);
    console.log(`${removed.length} image(s) removed`);
    return ExitCode.ok;
  },
};

/** `wrenn image build|info|prune`: builds the guest kernel, initramfs and rootfs, or shows the current one. */
export const command = commandGroup(
  "image",
  "Build, inspect or prune the guest image (kernel, initramfs, rootfs)",
  { build, info, prune },
);
