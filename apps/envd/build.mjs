// Builds the guest artifact: dist/envd.mjs (one esbuild bundle) plus the native
// node-pty module and its linux-x64 prebuilt binary under dist/node_modules, so
// the whole dist/ directory runs with a bare `node dist/envd.mjs`.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
// `--outdir <dir>` builds elsewhere (tests build a private copy instead of racing the image build).
const outdirFlag = process.argv.indexOf("--outdir");
const dist = outdirFlag > 0 ? process.argv[outdirFlag + 1] : join(here, "dist");
const require = createRequire(join(here, "package.json"));

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { envd: join(here, "src/main.ts") },
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  outdir: dist,
  // The services load as a separate chunk after the port is open (see src/server.ts).
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  external: ["@lydell/node-pty"],
  banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
});

for (const name of ["@lydell/node-pty", "@lydell/node-pty-linux-x64"]) {
  const source = dirname(
    require.resolve(`${name}/package.json`, { paths: [dirname(require.resolve("@lydell/node-pty"))] }),
  );
  cpSync(source, join(dist, "node_modules", name), { recursive: true, dereference: true });
}
console.log(`built ${join(dist, "envd.mjs")}`);
