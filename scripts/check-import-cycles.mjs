#!/usr/bin/env node
// Fails (exit 1) when imports form a cycle, at three levels:
//   files     a module that, through its imports, imports itself;
//   folders   two folders whose files import each other (apps/x/src/services ⇄ apps/x/src/http).
//             A folder is a first-level folder of a workspace's src/ with all below it; a file
//             directly in src/ (app.ts, config.ts: the composition root and what all share) is a
//             node of its own, so "app.ts wires services/ and services/ reads config.ts" is no loop;
//   packages  two workspaces whose files import each other (@wrenn/a ⇄ @wrenn/b).
// Type-only and dynamic imports count: both tie the layers together. Test files (*.test.ts) are
// leaves no module imports, so they are left out of the folder and package graphs (a test may
// use the test kit that depends on its own app). Imports are read with TypeScript's scanner and
// resolved here: relative paths, and @wrenn/* through each workspace's package.json `exports`.
// Usage: node scripts/check-import-cycles.mjs [--verbose] [--root DIR]   (DIR: another checkout)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const rootFlag = process.argv.indexOf("--root");
const root =
  rootFlag > 0
    ? resolve(process.argv[rootFlag + 1] ?? ".")
    : resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ts = createRequire(import.meta.url)("typescript");
const verbose = process.argv.includes("--verbose");

const sourceExtensions = [".ts", ".tsx", ".mts", ".mjs", ".js"];
const skippedDirs = new Set(["node_modules", "dist", ".git", "generated-assets"]);
const isTest = (file) => /\.test\.tsx?$/.test(file);

/** The workspaces of the root package.json, by package name. */
function workspaces() {
  const byName = new Map();
  const { workspaces: globs } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  for (const glob of globs) {
    const dirs = glob.endsWith("/*")
      ? readdirSync(join(root, glob.slice(0, -2))).map((d) => join(glob.slice(0, -2), d))
      : [glob];
    for (const dir of dirs) {
      const manifest = join(root, dir, "package.json");
      if (!existsSync(manifest)) continue;
      byName.set(JSON.parse(readFileSync(manifest, "utf8")).name, { dir, manifest });
    }
  }
  return byName;
}

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (skippedDirs.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (sourceExtensions.some((e) => name.endsWith(e)) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** A file for a path as written (with or without extension, or a folder's index). */
function fileAt(path) {
  const candidates = [
    path,
    ...sourceExtensions.map((e) => path + e),
    ...sourceExtensions.map((e) => join(path, `index${e}`)),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/** The file an `exports` entry points at (types-free source: `default`/`import`, else a string). */
function exportTarget(entry) {
  if (typeof entry === "string") return entry;
  if (entry && typeof entry === "object") return exportTarget(entry.import ?? entry.default ?? entry.types);
  return undefined;
}

function resolver(packages) {
  return (from, specifier) => {
    if (specifier.startsWith(".")) return fileAt(resolve(dirname(from), specifier));
    const match = specifier.match(/^(@wrenn\/[^/]+)(\/.*)?$/);
    const pkg = match && packages.get(match[1]);
    if (!pkg) return undefined; // a dependency from npm or Node: not ours
    const { exports, main } = JSON.parse(readFileSync(pkg.manifest, "utf8"));
    const subpath = `.${match[2] ?? ""}`;
    const target = exportTarget(exports?.[subpath] ?? (subpath === "." ? (exports ?? main) : undefined));
    return target ? fileAt(join(root, pkg.dir, target)) : undefined;
  };
}

/** Strongly connected components with more than one node (or a self-loop): each holds a cycle. */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const state = new Map();
  const found = [];
  const visit = (v) => {
    state.set(v, { index, low: index, onStack: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!state.has(w)) {
        visit(w);
        state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
      } else if (state.get(w).onStack) {
        state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
      }
    }
    if (state.get(v).low === state.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        state.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!state.has(v)) visit(v);
  return found;
}

/** One concrete loop inside a component, for the report: a → b → … → a. */
function loopIn(graph, component) {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        for (let p = previous.get(v); p !== null; p = previous.get(p)) path.unshift(p);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return component;
}

const packages = workspaces();
const resolveImport = resolver(packages);
const packageOf = (file) => {
  let best;
  for (const [name, { dir }] of packages) {
    const abs = `${join(root, dir)}/`;
    if (file.startsWith(abs) && (!best || abs.length > best[1].length)) best = [name, abs];
  }
  return best?.[0];
};

/** The folder-graph node of a file: `<workspace>/src/<first folder>`, or the file itself. */
const unitOf = (file) => {
  const match = file.match(/^((?:apps|packages)\/[^/]+\/src\/[^/]+)\/./);
  return match ? match[1] : file;
};

const files = [...packages.values()].flatMap(({ dir }) => walk(join(root, dir)));
for (const extra of ["scripts", "bench"])
  if (existsSync(join(root, extra))) files.push(...walk(join(root, extra)));

const fileGraph = new Map();
const folderGraph = new Map();
const packageGraph = new Map();
const link = (graph, a, b) => {
  if (!graph.has(a)) graph.set(a, new Set());
  if (b !== undefined) graph.get(a).add(b);
};
// Which file import stands behind a folder or package edge, to name it in the report.
const witness = new Map();

for (const file of files) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  const from = relative(root, file);
  link(fileGraph, from);
  for (const { fileName } of importedFiles) {
    const target = resolveImport(file, fileName);
    if (!target) continue;
    const to = relative(root, target);
    link(fileGraph, from, to);
    if (isTest(from)) continue;
    const [fromFolder, toFolder] = [unitOf(from), unitOf(to)];
    if (fromFolder !== toFolder) {
      link(folderGraph, fromFolder, toFolder);
      witness.set(`${fromFolder}|${toFolder}`, `${from} → ${to}`);
    }
    const [fromPkg, toPkg] = [packageOf(file), packageOf(target)];
    if (fromPkg && toPkg && fromPkg !== toPkg) {
      link(packageGraph, fromPkg, toPkg);
      witness.set(`${fromPkg}|${toPkg}`, `${from} → ${to}`);
    }
  }
}

let failed = false;
for (const [level, graph] of [
  ["file", fileGraph],
  ["folder", folderGraph],
  ["package", packageGraph],
]) {
  const found = cycles(graph);
  if (verbose) console.log(`${level}s: ${graph.size} nodes, ${found.length} cycles`);
  for (const component of found) {
    failed = true;
    const loop = loopIn(graph, component);
    console.log(`${level} cycle: ${loop.join(" → ")}`);
    if (level !== "file") {
      for (let i = 0; i + 1 < loop.length; i++)
        console.log(`    ${witness.get(`${loop[i]}|${loop[i + 1]}`)}`);
    }
  }
}
if (!failed) console.log(`no import cycles (${files.length} files)`);
process.exit(failed ? 1 : 0);
