import { createHash } from "node:crypto";

/**
 * One step of a template build. The kinds mirror E2B's template builder
 * (`runCmd`, `setEnvs`, `copy`, `setWorkdir`, `setUser`), so its SDK's step
 * list maps one to one onto them; the start command and ready check are
 * build-level settings ({@link BuildSpec}), as `setStartCmd`/`setReadyCmd` are.
 */
export type BuildStep =
  | { kind: "run"; command: string; line?: number }
  | { kind: "env"; envs: Record<string, string>; line?: number }
  | { kind: "copy"; src: string; dest: string; line?: number }
  | { kind: "workdir"; path: string; line?: number }
  | { kind: "user"; user: string; line?: number };

/** The kinds of step, for catalogues and validation. */
export const stepKinds = ["run", "env", "copy", "workdir", "user"] as const satisfies BuildStep["kind"][];

/**
 * True when a FROM / `from` names an OCI image rather than a Wrenn template: it has a
 * registry, a namespace, a tag or a digest (`debian:12`, `ghcr.io/a/b`, `x@sha256:…`).
 * Template names never contain `/`, `:` or `@`; a bare `debian` is a template name.
 */
export function isImageRef(name: string): boolean {
  return /[/:@]/.test(name);
}

/** An OCI image a build starts from instead of a Wrenn template. */
export interface ImageBase {
  /** As given: `[registry/]repository[:tag|@digest]`. */
  ref: string;
  /** Registry credentials sealed with the platform key (base64); stored, never shown or logged. */
  auth?: string | undefined;
}

/** A parsed recipe or Dockerfile: everything that decides what the build does. */
export interface BuildSpec {
  /** Template the build sandbox starts from (a Dockerfile's FROM; default `minimal`). */
  from?: string | undefined;
  /** An OCI image to start from instead (a FROM naming an image); wins over `from`. */
  fromImage?: ImageBase | undefined;
  steps: BuildStep[];
  /** Started in the background after the last step; the result is then a snapshot template. */
  startCmd?: string | undefined;
  /** Repeated until it exits 0 before the snapshot is captured (needs a start command). */
  readyCmd?: string | undefined;
}

/** Steps run as root before the recipe (refreshing package lists), unless `skip_pre_post`. */
export const PRE_STEPS: BuildStep[] = [{ kind: "run", command: "apt-get update -q" }];
/** Steps run as root after the recipe (dropping package caches from the image), unless `skip_pre_post`. */
export const POST_STEPS: BuildStep[] = [
  { kind: "run", command: "apt-get clean && rm -rf /var/lib/apt/lists/*" },
];

/** One line describing a step, as logs and the API show it (Dockerfile-like). */
export function describeStep(step: BuildStep): string {
  switch (step.kind) {
    case "run":
      return `RUN ${step.command}`;
    case "env":
      return `ENV ${Object.entries(step.envs)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(" ")}`;
    case "copy":
      return `COPY ${step.src} ${step.dest}`;
    case "workdir":
      return `WORKDIR ${step.path}`;
    case "user":
      return `USER ${step.user}`;
  }
}

/** True for steps that change the guest's disk (and so may end a cache layer). */
export function changesDisk(step: BuildStep): boolean {
  return step.kind === "run" || step.kind === "copy" || step.kind === "workdir";
}

/**
 * Cache keys of every prefix of a build: key `i` covers the base template, the
 * sandbox shape (a snapshot layer bakes vCPUs and memory in) and steps
 * `0..i`, each COPY by the content hash of what it copies. Equal keys mean the
 * guest ends in the same state, so a layer captured at that point can stand in
 * for running those steps again.
 */
export function prefixKeys(
  base: { templateId: string; vcpus: number; memoryMb: number; diskSizeMb: number },
  steps: BuildStep[],
  copyHash: (step: Extract<BuildStep, { kind: "copy" }>) => string,
): string[] {
  const h = createHash("sha256");
  h.update(JSON.stringify(["wrenn-build-v1", base.templateId, base.vcpus, base.memoryMb, base.diskSizeMb]));
  return steps.map((step) => {
    const { line: _line, ...canonical } = step;
    h.update(JSON.stringify(canonical));
    if (step.kind === "copy") h.update(copyHash(step));
    return h.copy().digest("hex");
  });
}
