import { parseImageRef } from "@wrenn/images/oci";
import { type BuildSpec, type BuildStep, isImageRef } from "./steps.ts";

/** A recipe or Dockerfile the parser refused; `line` is 1-based in the submitted text. */
export class SpecError extends Error {
  override readonly name = "SpecError";
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** A logical line: continuation lines (ending in `\`) joined, comments and blanks dropped. */
export interface LogicalLine {
  /** Where the instruction starts (1-based). */
  line: number;
  instruction: string;
  /** The text after the instruction word, trimmed. */
  rest: string;
}

/** Splits `text` into instructions the way Dockerfiles are read (`#` comments, `\` continuations). */
export function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const raw = text.replace(/\r\n?/g, "\n").split("\n");
  let start = 0;
  let buf: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const lineText = raw[i] ?? "";
    const trimmed = lineText.trim();
    if (buf.length === 0) {
      if (trimmed === "" || trimmed.startsWith("#")) continue;
      start = i + 1;
    } else if (trimmed.startsWith("#")) {
      continue; // comment lines inside a continuation are skipped, as Docker does
    }
    if (trimmed.endsWith("\\")) {
      buf.push(trimmed.slice(0, -1));
      continue;
    }
    buf.push(trimmed);
    push(out, start, buf.join(" "));
    buf = [];
  }
  if (buf.length) push(out, start, buf.join(" "));
  return out;
}

function push(out: LogicalLine[], line: number, text: string): void {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  if (!m) return;
  out.push({ line, instruction: (m[1] ?? "").toUpperCase(), rest: (m[2] ?? "").trim() });
}

/**
 * Splits shell-like words: whitespace separates, '…' is literal, "…" and bare
 * words honour backslash escapes. Throws (with `line`) on an open quote.
 */
export function splitWords(text: string, line: number): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new SpecError(line, "unterminated ' quote");
      cur += text.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length) j++;
        cur += text[j];
      }
      if (j >= text.length) throw new SpecError(line, 'unterminated " quote');
      i = j;
    } else if (ch === "\\" && i + 1 < text.length) {
      cur += text[++i];
    } else {
      cur += ch;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `K=V K2="v 2"` or the legacy `K value with spaces` form of ENV. */
export function parseEnv(rest: string, line: number): Record<string, string> {
  if (!rest) throw new SpecError(line, "ENV needs NAME=value");
  const first = rest.split(/\s+/, 1)[0] ?? "";
  const envs: Record<string, string> = {};
  if (!first.includes("=")) {
    const value = rest.slice(first.length).trim();
    if (!ENV_NAME.test(first)) throw new SpecError(line, `invalid variable name '${first}'`);
    envs[first] = splitWords(value, line).join(" ");
    return envs;
  }
  for (const word of splitWords(rest, line)) {
    const eq = word.indexOf("=");
    const name = eq < 0 ? word : word.slice(0, eq);
    if (eq < 0 || !ENV_NAME.test(name)) throw new SpecError(line, `expected NAME=value, got '${word}'`);
    envs[name] = word.slice(eq + 1);
  }
  return envs;
}

/** `src dest`, both required, no flags (a build context path and a guest path). */
export function parseCopy(rest: string, line: number, instruction: string): { src: string; dest: string } {
  const words = splitWords(rest, line);
  const flag = words.find((w) => w.startsWith("--"));
  if (flag) throw new SpecError(line, `${instruction} option ${flag.split("=")[0]} is not supported`);
  if (words.length !== 2) {
    throw new SpecError(line, `${instruction} takes exactly a source and a destination`);
  }
  const [src, dest] = words as [string, string];
  if (src.split("/").includes("..")) throw new SpecError(line, `${instruction} source may not contain '..'`);
  return { src, dest };
}

/** A single argument (WORKDIR's path, USER's name). */
export function single(rest: string, line: number, instruction: string): string {
  const words = splitWords(rest, line);
  if (words.length !== 1) throw new SpecError(line, `${instruction} takes exactly one argument`);
  return words[0] as string;
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** A guest user name as `useradd` allows it (USER refuses `user:group` and numeric ids). */
export function checkUser(user: string, line: number): string {
  if (!USER_NAME.test(user)) throw new SpecError(line, `invalid user name '${user}'`);
  return user;
}

/** A guest path for WORKDIR: absolute, or relative to the current one. */
function checkPath(path: string, line: number): string {
  if (path.includes("\0")) throw new SpecError(line, "path contains a NUL byte");
  return path;
}

/**
 * A FROM's base: an OCI image when the name has a registry, namespace, tag or digest
 * (`debian:12`, `ghcr.io/org/img`, `127.0.0.1:5000/x:v1`), else a Wrenn template.
 */
export function fromBase(spec: BuildSpec, name: string, line: number): void {
  if (!isImageRef(name)) {
    spec.from = name;
    return;
  }
  try {
    parseImageRef(name);
  } catch (err) {
    throw new SpecError(line, (err as Error).message);
  }
  spec.fromImage = { ref: name };
}

/** Instructions of Wrenn's recipe format. */
export const recipeInstructions = [
  "FROM",
  "RUN",
  "ENV",
  "COPY",
  "WORKDIR",
  "USER",
  "START",
  "READY",
] as const;

/**
 * Parses Wrenn's recipe format (its base is the request's `from`: a template or an
 * OCI image; a first FROM is what marks a Dockerfile): one instruction per line — `RUN cmd`,
 * `ENV NAME=value…`, `COPY src dest` (from the build context), `WORKDIR path`,
 * `USER name`, `START cmd` (start command: the result becomes a snapshot with
 * the process running) and `READY cmd` (ready check, repeated until it exits 0).
 * `#` starts a comment; a trailing `\` continues a line. Errors name the line.
 */
export function parseRecipe(text: string): BuildSpec {
  const steps: BuildStep[] = [];
  const spec: BuildSpec = { steps };
  for (const { line, instruction, rest } of logicalLines(text)) {
    switch (instruction) {
      case "RUN":
        if (!rest) throw new SpecError(line, "RUN needs a command");
        steps.push({ kind: "run", command: rest, line });
        break;
      case "ENV":
        steps.push({ kind: "env", envs: parseEnv(rest, line), line });
        break;
      case "COPY":
        steps.push({ kind: "copy", ...parseCopy(rest, line, "COPY"), line });
        break;
      case "WORKDIR":
        steps.push({ kind: "workdir", path: checkPath(single(rest, line, "WORKDIR"), line), line });
        break;
      case "USER":
        steps.push({ kind: "user", user: checkUser(single(rest, line, "USER"), line), line });
        break;
      case "START":
        if (!rest) throw new SpecError(line, "START needs a command");
        if (spec.startCmd !== undefined) throw new SpecError(line, "only one START is allowed");
        spec.startCmd = rest;
        break;
      case "READY":
        if (!rest) throw new SpecError(line, "READY needs a command");
        if (spec.readyCmd !== undefined) throw new SpecError(line, "only one READY is allowed");
        spec.readyCmd = rest;
        break;
      default:
        throw new SpecError(
          line,
          `unknown instruction ${instruction} (expected one of ${recipeInstructions.join(", ")})`,
        );
    }
  }
  return finish(spec, text);
}

/** Checks what only the whole spec can tell (a ready check needs a start command). */
export function finish(spec: BuildSpec, text: string): BuildSpec {
  if (spec.readyCmd !== undefined && spec.startCmd === undefined) {
    throw new SpecError(lineOf(text, /^\s*(READY|HEALTHCHECK)\b/i), "a ready check needs a start command");
  }
  if (spec.steps.length === 0 && spec.startCmd === undefined) {
    throw new SpecError(1, "the recipe has no steps");
  }
  return spec;
}

function lineOf(text: string, re: RegExp): number {
  const i = text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .findIndex((l) => re.test(l));
  return i < 0 ? 1 : i + 1;
}
