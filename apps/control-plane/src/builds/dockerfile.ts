import {
  checkUser,
  finish,
  fromBase,
  logicalLines,
  parseCopy,
  parseEnv,
  SpecError,
  single,
  splitWords,
} from "./recipe.ts";
import type { BuildSpec, BuildStep } from "./steps.ts";

// Metadata without an effect on a Wrenn template: accepted and dropped.
const IGNORED = new Set(["LABEL", "EXPOSE", "MAINTAINER", "STOPSIGNAL"]);

/**
 * A JSON array (exec form, `["node", "server.js"]`) becomes one shell command
 * line with every word single-quoted; anything else is taken as a shell command.
 */
function commandLine(rest: string, line: number, instruction: string): string {
  if (!rest) throw new SpecError(line, `${instruction} needs a command`);
  if (!rest.startsWith("[")) return rest;
  let words: unknown;
  try {
    words = JSON.parse(rest);
  } catch {
    throw new SpecError(line, `${instruction}: exec form must be a JSON array of strings`);
  }
  if (!Array.isArray(words) || words.length === 0 || !words.every((w) => typeof w === "string")) {
    throw new SpecError(line, `${instruction}: exec form must be a non-empty JSON array of strings`);
  }
  return words.map(shellQuote).join(" ");
}

/** Quotes one word for `/bin/sh` (safe words stay bare for readable logs). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Maps the supported Dockerfile subset onto build steps: `FROM <wrenn
 * template or OCI image>` (first instruction, one stage), RUN, ENV, COPY/ADD from the
 * uploaded build context, WORKDIR, USER, CMD/ENTRYPOINT (together: the start
 * command) and `HEALTHCHECK CMD` (the ready check). LABEL, EXPOSE, MAINTAINER
 * and STOPSIGNAL are accepted and ignored; any other instruction (ARG, VOLUME,
 * SHELL, ONBUILD, a second FROM, `COPY --from`…) is refused naming its line.
 */
export function parseDockerfile(text: string): BuildSpec {
  const steps: BuildStep[] = [];
  const spec: BuildSpec = { steps };
  let entrypoint: string | undefined;
  let cmd: string | undefined;
  let seenFrom = false;
  for (const { line, instruction, rest } of logicalLines(text)) {
    if (!seenFrom && instruction !== "FROM") {
      throw new SpecError(line, `expected FROM before ${instruction}`);
    }
    switch (instruction) {
      case "FROM": {
        if (seenFrom) throw new SpecError(line, "multi-stage builds (a second FROM) are not supported");
        const words = splitWords(rest, line);
        if (words.length !== 1)
          throw new SpecError(line, "FROM takes one Wrenn template or image name (no AS, no flags)");
        const name = words[0] as string;
        if (name === "scratch")
          throw new SpecError(line, "FROM scratch is not supported; start from a Wrenn template or an image");
        fromBase(spec, name, line);
        seenFrom = true;
        break;
      }
      case "RUN":
        steps.push({ kind: "run", command: commandLine(rest, line, "RUN"), line });
        break;
      case "ENV":
        steps.push({ kind: "env", envs: parseEnv(rest, line), line });
        break;
      case "COPY":
      case "ADD": {
        const { src, dest } = parseCopy(rest, line, instruction);
        if (instruction === "ADD" && /^[a-z]+:\/\//i.test(src)) {
          throw new SpecError(line, "ADD from a URL is not supported; put the file in the build context");
        }
        steps.push({ kind: "copy", src, dest, line });
        break;
      }
      case "WORKDIR":
        steps.push({ kind: "workdir", path: single(rest, line, "WORKDIR"), line });
        break;
      case "USER":
        steps.push({ kind: "user", user: checkUser(single(rest, line, "USER"), line), line });
        break;
      case "CMD":
        cmd = commandLine(rest, line, "CMD");
        break;
      case "ENTRYPOINT":
        entrypoint = commandLine(rest, line, "ENTRYPOINT");
        break;
      case "HEALTHCHECK": {
        if (/^NONE$/i.test(rest)) break;
        const m = /^(?:(--\S+\s+)*)CMD\s+([\s\S]+)$/i.exec(rest);
        if (!m || m[1]) throw new SpecError(line, "HEALTHCHECK supports only `HEALTHCHECK CMD <command>`");
        spec.readyCmd = commandLine((m[2] ?? "").trim(), line, "HEALTHCHECK");
        break;
      }
      default:
        if (IGNORED.has(instruction)) break;
        throw new SpecError(line, `unsupported Dockerfile instruction ${instruction}`);
    }
  }
  if (!seenFrom) throw new SpecError(1, "a Dockerfile must start with FROM <template or image>");
  if (entrypoint !== undefined || cmd !== undefined) {
    spec.startCmd = [entrypoint, cmd].filter((p) => p !== undefined).join(" ");
  }
  return finish(spec, text);
}
