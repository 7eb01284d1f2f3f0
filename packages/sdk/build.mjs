// Builds the publishable package into dist/ (or `--outdir <dir>`):
//   index.mjs / index.cjs  one esbuild bundle each (ESM, CJS) for Node 20+ (the ESM one with
//                          its lazily loaded envd part in chunks/), with
//                          @wrenn/proto's generated code and @wrenn/common's error catalogue
//                          inlined (private workspace packages: devDependencies, so bundled);
//                          @bufbuild/protobuf and @connectrpc/* stay real dependencies.
//   types/                 declarations from tsc, @wrenn/proto's and @wrenn/common's included
//                          and relinked.
//   package.json           the published manifest: exports map with types/import/require.
//   README.md
// The workspace itself keeps importing src/ (package.json "exports"), so nothing in the
// repository needs a build; `npm publish <outdir>` publishes the built package.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdirFlag = process.argv.indexOf("--outdir");
const dist = outdirFlag > 0 ? process.argv[outdirFlag + 1] : join(here, "dist");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const external = Object.keys(pkg.dependencies);
// Workspace entry points the SDK imports (bundled in), and their sources under packages/.
const bundledWorkspaceEntries = {
  "@wrenn/proto": "proto/src/index.ts",
  "@wrenn/common/errors": "common/src/errors.ts",
  "@wrenn/common/connect-codes": "common/src/connect-codes.ts",
  "@wrenn/common/connect-names": "common/src/connect-names.ts",
  "@wrenn/common/http-request": "common/src/http-request.ts",
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

// ESM with code splitting: the envd side (Connect, the generated protobuf code; envd/rpc.ts) is a
// chunk that a real `import()` loads on the first envd call, so importing the SDK loads neither.
// CJS has no splitting; there esbuild keeps that module's require()s inside its lazy initialiser,
// which has the same effect.
const common = {
  entryPoints: { index: join(here, "src/index.ts") },
  bundle: true,
  platform: "node",
  target: "node20",
  external,
  legalComments: "none",
  logLevel: "warning",
};
await build({
  ...common,
  outdir: dist,
  format: "esm",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
});
await build({
  ...common,
  outfile: join(dist, "index.cjs"),
  entryPoints: [join(here, "src/index.ts")],
  format: "cjs",
});

// Declarations: tsc emits src/ and the bundled workspace packages' sources under
// types/{sdk,proto,common}/src.
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const types = join(dist, "types");
const tsconfig = join(dist, "tsconfig.types.json");
writeFileSync(
  tsconfig,
  JSON.stringify({
    extends: join(here, "../../tsconfig.base.json"),
    compilerOptions: {
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      rewriteRelativeImportExtensions: true,
      rootDir: join(here, ".."),
      outDir: types,
      // The config lives in the output dir (maybe outside the repo): find @types from here.
      typeRoots: [join(here, "../../node_modules/@types")],
    },
    files: [
      join(here, "src/index.ts"),
      ...Object.values(bundledWorkspaceEntries).map((f) => join(here, "..", f)),
    ],
  }),
);
try {
  execFileSync(process.execPath, [tsc, "-p", tsconfig], { encoding: "utf8" });
} catch (err) {
  throw new Error(`tsc failed:\n${err.stdout}${err.stderr}`);
}
rmSync(tsconfig);
rmSync(join(types, "proto/src/codegen.d.ts"), { force: true });
rmSync(join(types, "proto/src/codegen-cli.d.ts"), { force: true });

// Relative specifiers end in .js, and each bundled workspace import points at its emitted declarations.
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
for (const file of walk(types).filter((f) => f.endsWith(".d.ts"))) {
  const text = readFileSync(file, "utf8");
  let fixed = text.replace(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.ts\2/g, "$1$2$3.js$2");
  for (const [specifier, source] of Object.entries(bundledWorkspaceEntries)) {
    let rel = relative(dirname(file), join(types, source.replace(/\.ts$/, ".js")));
    if (!rel.startsWith(".")) rel = `./${rel}`;
    fixed = fixed.replaceAll(`"${specifier}"`, `"${rel}"`).replaceAll(`'${specifier}'`, `"${rel}"`);
  }
  if (fixed !== text) writeFileSync(file, fixed);
}

const typesEntry = "./types/sdk/src/index.d.ts";
writeFileSync(
  join(dist, "package.json"),
  `${JSON.stringify(
    {
      name: pkg.name,
      version: pkg.version,
      description: pkg.description,
      engines: { node: ">=20" },
      main: "./index.cjs",
      module: "./index.mjs",
      types: typesEntry,
      exports: {
        ".": { types: typesEntry, import: "./index.mjs", require: "./index.cjs" },
        "./package.json": "./package.json",
      },
      files: ["index.mjs", "index.cjs", "chunks", "types", "README.md"],
      dependencies: pkg.dependencies,
      sideEffects: false,
    },
    null,
    2,
  )}\n`,
);
copyFileSync(join(here, "README.md"), join(dist, "README.md"));
console.log(`built ${dist}`);
