import { z } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type ContextFile, contextPath, readTar } from "../builds/context.ts";
import type { SubmitBuildInput } from "../builds/service.ts";
import type { BuildStep } from "../builds/steps.ts";
import type { AppEnv } from "../http/context.ts";
import { requireUserJson } from "../http/user-text.ts";

// What a build submission is on the wire (JSON with base64 files, or multipart with a tar
// context) and how it becomes the builds service's input; the routes are in builds.ts.
/** Paths whose bodies (build contexts) get the builds' own, larger limit instead of the global one. */
export const buildUploadPath = /^\/v1\/(admin\/)?builds$/;
const MAX_CONTEXT_BYTES = 64 * 1024 * 1024;

/**
 * The body limit of build submissions (build contexts): the app applies it instead of its global
 * one on {@link buildUploadPath}, before anything reads the body.
 */
export const buildsBodyLimit = bodyLimit({
  maxSize: MAX_CONTEXT_BYTES,
  onError: (c) =>
    c.json(
      { code: "invalid_argument", message: `build uploads are limited to ${MAX_CONTEXT_BYTES} bytes` },
      400,
    ),
});

export const StepSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("run"), command: z.string().min(1) }),
    z.strictObject({
      type: z.literal("env"),
      envs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()),
    }),
    z.strictObject({ type: z.literal("copy"), src: z.string().min(1), dest: z.string().min(1) }),
    z.strictObject({ type: z.literal("workdir"), path: z.string().min(1) }),
    z.strictObject({ type: z.literal("user"), user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/) }),
  ])
  .openapi("BuildStep");

const ContextFileSchema = z.strictObject({
  path: z.string().min(1).openapi({ description: "Relative path in the build context" }),
  content: z.string().openapi({ description: "base64" }),
  mode: z.number().int().min(0).max(0o7777).optional(),
});

const SubmitFields = {
  name: z.string().openapi({
    example: "my-env",
    description: "Template to make; replaces the team's template of that name on success",
  }),
  recipe: z
    .string()
    .optional()
    .openapi({ description: "Wrenn recipe (FROM/RUN/ENV/COPY/WORKDIR/USER/START/READY)" }),
  dockerfile: z.string().optional().openapi({
    description:
      "Dockerfile subset (FROM a Wrenn template or an OCI image, RUN, ENV, COPY/ADD, WORKDIR, USER, CMD/ENTRYPOINT, HEALTHCHECK CMD)",
  }),
  steps: z.array(StepSchema).optional().openapi({ description: "Typed steps (what SDKs send)" }),
  from: z.string().optional().openapi({
    description:
      "Base: a Wrenn template (default minimal), or an OCI image when the name has a registry, namespace, tag or digest (`debian:12`, `ghcr.io/org/img:1`); a recipe's or Dockerfile's FROM wins",
  }),
  registry_auth: z
    .strictObject({ username: z.string().min(1), password: z.string().min(1) })
    .optional()
    .openapi({
      description:
        "Credentials of the base image's registry; stored encrypted (needs WRENN_ENCRYPTION_KEY), never shown",
    }),
  start_cmd: z
    .string()
    .min(1)
    .optional()
    .openapi({ description: "With `steps`: start command (result: snapshot with it running)" }),
  ready_cmd: z
    .string()
    .min(1)
    .optional()
    .openapi({ description: "With `steps`: ready check, repeated until it exits 0" }),
  vcpus: z.number().int().optional(),
  memory_mb: z.number().int().optional(),
  disk_size_mb: z.number().int().optional(),
  skip_pre_post: z
    .boolean()
    .optional()
    .openapi({ description: "Skip `apt-get update` before and the apt clean-up after" }),
  skip_cache: z
    .boolean()
    .optional()
    .openapi({ description: "Run every step again (layers captured replace cached ones)" }),
};

/** The JSON body of a submission. */
export const SubmitBody = z
  .strictObject({
    ...SubmitFields,
    files: z.array(ContextFileSchema).optional().openapi({ description: "Build context files COPY reads" }),
    context: z
      .string()
      .optional()
      .openapi({ description: "Build context as a base64 tar (optionally gzipped)" }),
  })
  .openapi("SubmitBuildRequest");

/** The multipart body of a submission. */
export const SubmitForm = z.object({
  spec: z.string().openapi({ description: "JSON: the SubmitBuildRequest fields without files/context" }),
  context: z
    .any()
    .optional()
    .openapi({ type: "string", format: "binary", description: "Build context tar (optionally gzipped)" }),
  file: z.any().optional().openapi({
    type: "string",
    format: "binary",
    description: "A context file; its filename is its relative path (repeatable)",
  }),
});

const SubmitSpec = z.strictObject(SubmitFields);

function toStep(s: z.infer<typeof StepSchema>): BuildStep {
  switch (s.type) {
    case "run":
      return { kind: "run", command: s.command };
    case "env":
      return { kind: "env", envs: s.envs };
    case "copy":
      return { kind: "copy", src: s.src, dest: s.dest };
    case "workdir":
      return { kind: "workdir", path: s.path };
    case "user":
      return { kind: "user", user: s.user };
  }
}

function toInput(b: z.infer<typeof SubmitSpec>, files: ContextFile[]): SubmitBuildInput {
  const given = [b.recipe !== undefined, b.dockerfile !== undefined, b.steps !== undefined].filter(
    Boolean,
  ).length;
  if (given !== 1) throw errors.invalidArgument("give exactly one of recipe, dockerfile or steps");
  if ((b.start_cmd || b.ready_cmd) && !b.steps) {
    throw errors.invalidArgument(
      "start_cmd and ready_cmd go with steps; recipes use START/READY, Dockerfiles CMD/HEALTHCHECK",
    );
  }
  if (b.ready_cmd && !b.start_cmd) throw errors.invalidArgument("ready_cmd needs start_cmd");
  const source = b.recipe !== undefined ? "recipe" : b.dockerfile !== undefined ? "dockerfile" : "steps";
  return {
    name: b.name,
    source,
    text: b.recipe ?? b.dockerfile,
    spec: b.steps ? { steps: b.steps.map(toStep), startCmd: b.start_cmd, readyCmd: b.ready_cmd } : undefined,
    from: b.from,
    registryAuth: b.registry_auth,
    vcpus: b.vcpus,
    memoryMb: b.memory_mb,
    diskSizeMb: b.disk_size_mb,
    skipPrePost: b.skip_pre_post,
    skipCache: b.skip_cache,
    files,
  };
}

function decodeBase64(value: string, field: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value.replace(/\s/g, "")))
    throw errors.invalidArgument(`${field} must be base64`);
  return Buffer.from(value, "base64");
}

/** The files of an upload: a tar context plus individual files (later ones win on equal paths). */
function mergeFiles(...lists: ContextFile[][]): ContextFile[] {
  const byPath = new Map<string, ContextFile>();
  for (const f of lists.flat()) byPath.set(f.path, f);
  return [...byPath.values()];
}

/** Reads and checks a submission (either body form) into the service's input; 400 naming what is wrong. */
export async function readSubmission(c: Context<AppEnv>): Promise<SubmitBuildInput> {
  const type = c.req.header("content-type") ?? "";
  if (type.startsWith("multipart/form-data")) {
    const form = await c.req.parseBody({ all: true });
    if (typeof form.spec !== "string") throw errors.invalidArgument("spec: a JSON text field is required");
    let raw: unknown;
    try {
      raw = JSON.parse(form.spec);
    } catch {
      throw errors.invalidArgument("spec must be JSON");
    }
    // The boundary's user-text check does not read multipart forms: check the decoded spec here.
    const parsed = SubmitSpec.safeParse(requireUserJson(raw, "spec"));
    if (!parsed.success)
      throw errors.invalidArgument(`spec: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    const tars = ([] as unknown[]).concat(form.context ?? []).filter((f): f is File => f instanceof File);
    const singles = ([] as unknown[]).concat(form.file ?? []).filter((f): f is File => f instanceof File);
    const files = mergeFiles(
      ...(await Promise.all(tars.map(async (f) => readTar(Buffer.from(await f.arrayBuffer()))))),
      await Promise.all(
        singles.map(async (f) => ({
          path: contextPath(f.name),
          mode: 0o644,
          content: Buffer.from(await f.arrayBuffer()),
        })),
      ),
    );
    return toInput(parsed.data, files);
  }
  const b = c.req.valid("json" as never) as z.infer<typeof SubmitBody>;
  const { files = [], context, ...rest } = b;
  const merged = mergeFiles(
    context ? readTar(decodeBase64(context, "context")) : [],
    files.map((f) => ({
      path: contextPath(f.path),
      mode: f.mode ?? 0o644,
      content: decodeBase64(f.content, "files.content"),
    })),
  );
  return toInput(rest, merged);
}
