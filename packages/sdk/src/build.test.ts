import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";

// Builds the publishable package and uses it the way an npm consumer would: a
// project whose node_modules holds only the built @wrenn/sdk and its declared
// dependencies, loaded with require() (CJS), import() (ESM) and typechecked by tsc.
const run = promisify(execFile);
const sdkRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoModules = join(sdkRoot, "../../node_modules");
let dir: string;
let built: string;
let consumer: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wrenn-sdk-build-"));
  consumer = join(dir, "consumer");
  // Built straight into the consumer's node_modules, as `npm install` would place it.
  built = join(consumer, "node_modules/@wrenn/sdk");
  await run(process.execPath, [join(sdkRoot, "build.mjs"), "--outdir", built], { cwd: sdkRoot });
  const manifest = JSON.parse(await readFile(join(built, "package.json"), "utf8"));
  for (const name of Object.keys(manifest.dependencies)) {
    const scope = name.split("/")[0] as string;
    await mkdir(join(consumer, "node_modules", scope), { recursive: true });
    await symlink(join(repoModules, name), join(consumer, "node_modules", name));
  }
  await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true }));
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

// Runs in the consumer: the public API is there and works without a server.
const probe = (load: string) => `
${load}
const out = {
  Sandbox: typeof sdk.Sandbox.create,
  errors: [sdk.NotFoundError, sdk.AuthenticationError, sdk.CommandExitError, sdk.TimeoutError].every(
    (E) => new E(...(E === sdk.CommandExitError ? [{ exitCode: 1, stdout: "", stderr: "" }] : ["x"])) instanceof sdk.WrennError,
  ),
  mapped: sdk.errorFromHttp(404, JSON.stringify({ code: "not_found", message: "gone" })).name,
};
delete process.env.WRENN_API_KEY;
sdk.Sandbox.create({ apiUrl: "http://127.0.0.1:9" }).catch((err) => {
  out.missingKey = err.name;
  console.log(JSON.stringify(out));
});
`;

const expected = {
  Sandbox: "function",
  errors: true,
  mapped: "NotFoundError",
  missingKey: "AuthenticationError",
};

test("the manifest maps import, require and types, and depends on no workspace package", async () => {
  const manifest = JSON.parse(await readFile(join(built, "package.json"), "utf8"));
  expect(manifest.exports["."]).toEqual({
    types: "./types/sdk/src/index.d.ts",
    import: "./index.mjs",
    require: "./index.cjs",
  });
  expect(Object.keys(manifest.dependencies).filter((d) => d.startsWith("@wrenn/"))).toEqual([]);
  for (const file of ["index.mjs", "index.cjs"]) {
    expect(await readFile(join(built, file), "utf8")).not.toMatch(/@wrenn\//);
  }
});

test("require() loads the CJS build in a plain node process", async () => {
  const { stdout } = await run(process.execPath, ["-e", probe('const sdk = require("@wrenn/sdk");')], {
    cwd: consumer,
  });
  expect(JSON.parse(stdout)).toEqual(expected);
  expect(createRequire(join(consumer, "x.js")).resolve("@wrenn/sdk")).toBe(join(built, "index.cjs"));
});

test("import() loads the ESM build in a plain node process", async () => {
  const { stdout } = await run(
    process.execPath,
    ["--input-type=module", "-e", probe('const sdk = await import("@wrenn/sdk");')],
    { cwd: consumer },
  );
  expect(JSON.parse(stdout)).toEqual(expected);
  const { stdout: resolved } = await run(
    process.execPath,
    ["--input-type=module", "-e", 'console.log(import.meta.resolve("@wrenn/sdk"))'],
    { cwd: consumer },
  );
  expect(resolved.trim()).toBe(`file://${join(consumer, "node_modules/@wrenn/sdk/index.mjs")}`);
});

test("importing the SDK loads neither Connect nor protobuf: without them installed, the REST side works", async () => {
  // They are loaded with the envd clients, on the first envd call (envd/rpc.ts): a consumer
  // without them can import, map errors and reach the control plane.
  const lean = join(dir, "lean");
  await mkdir(join(lean, "node_modules/@wrenn"), { recursive: true });
  await symlink(built, join(lean, "node_modules/@wrenn/sdk"));
  await writeFile(join(lean, "package.json"), JSON.stringify({ name: "lean", private: true }));
  const esm = await run(
    process.execPath,
    ["--input-type=module", "-e", probe('const sdk = await import("@wrenn/sdk");')],
    { cwd: lean },
  );
  expect(JSON.parse(esm.stdout)).toEqual(expected);
  const cjs = await run(process.execPath, ["-e", probe('const sdk = require("@wrenn/sdk");')], { cwd: lean });
  expect(JSON.parse(cjs.stdout)).toEqual(expected);
});

test("the declarations typecheck in a strict consumer, ESM and CJS", async () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const source = `
import { Sandbox, CommandExitError, WrennError, type CommandResult, type EntryInfo, type ErrorCode } from "@wrenn/sdk";
export async function main(): Promise<CommandResult> {
  const sandbox: Sandbox = await Sandbox.create({ template: "minimal", timeoutMs: 60_000 });
  const entries: EntryInfo[] = await sandbox.files.list("/");
  const handle = await sandbox.commands.run("sleep 1", { background: true });
  await handle.sendStdin("x");
  const pid: number = handle.pid;
  void entries; void pid;
  try {
    return await sandbox.commands.run("true");
  } catch (err) {
    if (err instanceof CommandExitError) return err.result;
    if (err instanceof WrennError) {
      const code: ErrorCode = err.code;
      const status: number | undefined = err.status;
      // @ts-expect-error the code is typed (one of the catalogue's), not any
      const notANumber: number = err.code;
      void code; void status; void notANumber;
    }
    throw err;
  }
}
`;
  await writeFile(join(consumer, "esm.mts"), source);
  await writeFile(join(consumer, "cjs.cts"), source);
  await writeFile(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
        lib: ["es2022", "dom"],
      },
      files: ["esm.mts", "cjs.cts"],
    }),
  );
  const result = await run(process.execPath, [tsc, "-p", join(consumer, "tsconfig.json")], {
    cwd: consumer,
  }).catch((err: { stdout: string }) => err);
  expect(result.stdout).toBe("");
});
