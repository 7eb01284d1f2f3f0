import { errors } from "@wrenn/common";
import { z } from "zod";
import { shellQuote } from "../builds/dockerfile.ts";
import type { RegistryAuth } from "../builds/image-base.ts";
import { type BuildSpec, type BuildStep, isImageRef } from "../builds/steps.ts";

/** The image the `e2b` SDK names for `fromBaseImage()` (and for a template with no `from…` call). */
export const E2B_DEFAULT_BASE_IMAGE = "e2bdev/base";
/** Wrenn's base template: what E2B's base image and `fromTemplate("base")` mean here. */
export const WRENN_BASE_TEMPLATE = "minimal";
/** The user E2B's base image and Wrenn's `minimal` both run steps as, until a USER step. */
const DEFAULT_USER = "user";

const Instruction = z.looseObject({
  type: z.string(),
  args: z.array(z.string()).max(4096),
  force: z.boolean().optional(),
  filesHash: z.string().optional(),
});

/** The body of `POST /v2/templates/{templateID}/builds/{buildID}`: the SDK's serialized template. */
export const E2bTemplateBody = z.looseObject({
  fromTemplate: z.string().max(256).optional(),
  fromImage: z.string().max(1024).optional(),
  fromImageRegistry: z.unknown().optional(),
  startCmd: z.string().max(16_384).optional(),
  readyCmd: z.string().max(16_384).optional(),
  force: z.boolean().optional(),
  steps: z.array(Instruction).max(1000).default([]),
});

/** A parsed {@link E2bTemplateBody}. */
export type E2bTemplate = z.infer<typeof E2bTemplateBody>;

/** What a serialized E2B template becomes: Wrenn's spec plus the uploads its COPY steps read. */
export interface MappedTemplate {
  spec: BuildSpec;
  /** Wrenn template the build starts from, or an OCI image reference (`fromImage`). */
  from: string;
  /** Credentials of the image's registry (`fromImage(img, credentials)`). */
  registryAuth?: RegistryAuth | undefined;
  /** Any `force` (Template.build `skipCache`, `.skipCache()`, `copy(…, {forceUpload})`). */
  skipCache: boolean;
  /** The upload hashes of the COPY steps, in order (their tar archives make the build context). */
  filesHashes: string[];
}

function base(t: E2bTemplate): string {
  if (t.fromTemplate !== undefined) return t.fromTemplate === "base" ? WRENN_BASE_TEMPLATE : t.fromTemplate;
  if (t.fromImage === undefined || t.fromImage === E2B_DEFAULT_BASE_IMAGE) return WRENN_BASE_TEMPLATE;
  // Always an image here, so a bare Docker Hub name gets its implied tag (and reads as an image).
  return isImageRef(t.fromImage) ? t.fromImage : `${t.fromImage}:latest`;
}

const RegistryConfig = z.looseObject({
  type: z.string(),
  username: z.string().optional(),
  password: z.string().optional(),
});

/** `fromImageRegistry`: basic credentials (`fromImage(img, {username, password})`); AWS and GCP are refused. */
function registryAuth(t: E2bTemplate): RegistryAuth | undefined {
  if (t.fromImageRegistry === undefined || t.fromImageRegistry === null) return undefined;
  const parsed = RegistryConfig.safeParse(t.fromImageRegistry);
  if (!parsed.success) throw errors.invalidArgument("fromImageRegistry must be an object with a type");
  const c = parsed.data;
  if (c.type !== "registry") {
    throw errors.invalidArgument(
      `registry type ${c.type} (fromAWSRegistry / fromGCPRegistry) is not supported by Wrenn: use fromImage(image, { username, password })`,
    );
  }
  if (!c.username || !c.password)
    throw errors.invalidArgument("registry credentials need username and password");
  return { username: c.username, password: c.password };
}

/** The serialized template as it may be stored for display: registry credentials removed. */
export function redactTemplate(t: E2bTemplate): E2bTemplate {
  if (t.fromImageRegistry === undefined) return t;
  const type = (t.fromImageRegistry as { type?: unknown } | null)?.type;
  return { ...t, fromImageRegistry: { type, redacted: true } };
}

function argsOf(args: string[], min: number, what: string): string[] {
  if (args.length < min) throw errors.invalidArgument(`${what} needs ${min} argument(s)`);
  return args;
}

/**
 * Maps the SDK's instruction list onto Wrenn's typed steps. A RUN or COPY with
 * its own user becomes USER x, the step, USER back (E2B's per-step user leaves
 * the template's user unchanged); a COPY mode becomes a chmod after it.
 */
export function e2bTemplateToSpec(t: E2bTemplate): MappedTemplate {
  const steps: BuildStep[] = [];
  const filesHashes: string[] = [];
  let user = DEFAULT_USER;
  let skipCache = t.force ?? false;
  const asUser = (who: string, step: BuildStep, after: BuildStep[] = []) => {
    if (who === "" || who === user) steps.push(step, ...after);
    else steps.push({ kind: "user", user: who }, step, ...after, { kind: "user", user });
  };
  for (const [i, ins] of t.steps.entries()) {
    const what = `step ${i + 1} (${ins.type})`;
    if (ins.force) skipCache = true;
    switch (ins.type) {
      case "RUN": {
        const [command = "", who = ""] = argsOf(ins.args, 1, what);
        asUser(who, { kind: "run", command });
        break;
      }
      case "ENV": {
        const args = ins.args;
        if (args.length % 2 !== 0) throw errors.invalidArgument(`${what} needs key/value pairs`);
        const envs: Record<string, string> = {};
        for (let k = 0; k < args.length; k += 2) envs[args[k] as string] = args[k + 1] as string;
        steps.push({ kind: "env", envs });
        break;
      }
      case "COPY": {
        const [src = "", dest = "", who = "", mode = ""] = argsOf(ins.args, 2, what);
        if (!ins.filesHash || !/^[0-9a-f]{64}$/.test(ins.filesHash)) {
          throw errors.invalidArgument(`${what} needs the filesHash of its upload`);
        }
        filesHashes.push(ins.filesHash);
        if (mode !== "" && !/^[0-7]{3,4}$/.test(mode))
          throw errors.invalidArgument(`${what}: bad mode ${mode}`);
        const chmod: BuildStep[] = mode
          ? [{ kind: "run", command: `chmod -R ${mode} ${shellQuote(dest)}` }]
          : [];
        asUser(who, { kind: "copy", src, dest }, chmod);
        break;
      }
      case "WORKDIR":
        steps.push({ kind: "workdir", path: argsOf(ins.args, 1, what)[0] as string });
        break;
      case "USER":
        user = argsOf(ins.args, 1, what)[0] as string;
        steps.push({ kind: "user", user });
        break;
      default:
        throw errors.invalidArgument(`${what}: instruction ${ins.type} is not supported by Wrenn`);
    }
  }
  return {
    spec: { steps, startCmd: t.startCmd || undefined, readyCmd: t.readyCmd || undefined },
    from: base(t),
    registryAuth: registryAuth(t),
    skipCache,
    filesHashes,
  };
}
