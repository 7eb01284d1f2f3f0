import { parseArgs } from "node:util";
import {
  type BuildProgress,
  buildGuestImage,
  listGuestImages,
  pruneGuestImages,
  resolveGuestImage,
} from "@wrenn/images";
import type { Command } from "../command.ts";
import { ExitCode } from "../command.ts";

const USAGE = `Usage:
  wrenn image build [--force] [--keep N] [--data-dir DIR]
                                                 build the guest image (cached by a hash of its inputs);
                                                 after a new build only the newest N (default 3) images stay
  wrenn image info [--data-dir DIR] [--all]      print the manifest of the newest image (or list all)
  wrenn image prune --keep N [--data-dir DIR]    delete all but the newest N images

The data dir defaults to $WRENN_DATA_DIR, else /var/lib/wrenn; images live in <data-dir>/images/base/<hash>/.`;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function printProgress(e: BuildProgress): void {
  switch (e.status) {
    case "start":
      console.log(`==> ${e.step}: ${e.message}`);
      break;
    case "done":
      console.log(`    ${e.step} done in ${seconds(e.elapsedMs ?? 0)}: ${e.message}`);
      break;
    case "cached":
      console.log(`==> ${e.message}`);
      break;
    case "info":
      console.log(`    ${e.message}`);
      break;
  }
}

async function build(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      force: { type: "boolean", default: false },
      keep: { type: "string" },
      "data-dir": { type: "string" },
    },
  });
  if (values.keep !== undefined && !/^[1-9][0-9]*$/.test(values.keep)) {
    console.error(`wrenn image build: --keep needs a whole number of at least 1\n\n${USAGE}`);
    return ExitCode.usage;
  }
  const started = performance.now();
  const image = await buildGuestImage({
    dataDir: values["data-dir"],
    force: values.force,
    keep: values.keep === undefined ? undefined : Number(values.keep),
    onProgress: printProgress,
  });
  const verb = image.cached ? "up to date" : "built";
  console.log(`guest image ${image.hash} ${verb} in ${seconds(performance.now() - started)}: ${image.dir}`);
  return ExitCode.ok;
}

async function info(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { "data-dir": { type: "string" }, all: { type: "boolean", default: false } },
  });
  if (values.all) {
    for (const image of await listGuestImages(values["data-dir"])) {
      const m = image.manifest;
      console.log(
        `${image.hash}  built ${m.builtAt}  kernel ${m.kernelVersion}  envd ${m.envdVersion}  ${image.dir}`,
      );
    }
    return ExitCode.ok;
  }
  const image = await resolveGuestImage(values["data-dir"]);
  console.log(JSON.stringify({ dir: image.dir, ...image.manifest }, null, 2));
  return ExitCode.ok;
}

async function prune(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { "data-dir": { type: "string" }, keep: { type: "string" } },
  });
  if (values.keep === undefined || !/^[1-9][0-9]*$/.test(values.keep)) {
    console.error(`wrenn image prune: --keep N (N >= 1) is required\n\n${USAGE}`);
    return ExitCode.usage;
  }
  const removed = await pruneGuestImages({ dataDir: values["data-dir"], keep: Number(values.keep) });
  for (const image of removed) console.log(`removed ${image.hash} (built ${image.manifest.builtAt})`);
  console.log(`${removed.length} image(s) removed`);
  return ExitCode.ok;
}

/** `wrenn image build|info|prune`: builds the guest kernel, initramfs and rootfs, or shows the current one. */
export const command: Command = {
  summary: "Build, inspect or prune the guest image (kernel, initramfs, rootfs)",
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    try {
      if (sub === "build") return await build(rest);
      if (sub === "info") return await info(rest);
      if (sub === "prune") return await prune(rest);
    } catch (err) {
      if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
        console.error(`wrenn image ${sub}: ${err.message}\n\n${USAGE}`);
        return ExitCode.usage;
      }
      throw err;
    }
    console.error(USAGE);
    return ExitCode.usage;
  },
};
