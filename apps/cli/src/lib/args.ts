import { parseArgs } from "node:util";
import type { Options } from "../command.ts";
import { UsageError } from "./errors.ts";

/** Flags every subcommand accepts. */
export const commonOptions = {
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies Options;

/**
 * Strict `parseArgs` with positionals allowed, turning Node's `ERR_PARSE_ARGS_*` into a
 * {@link UsageError} (exit 2). Arguments after `--` end up in `rest`, untouched.
 * `json: false` is for commands that print no data: `--json` is then an unknown option.
 */
export function parse<const O extends Options>(argv: string[], options: O, { json = true } = {}) {
  const dash = argv.indexOf("--");
  const head = dash === -1 ? argv : argv.slice(0, dash);
  const rest = dash === -1 ? [] : argv.slice(dash + 1);
  const { json: _json, ...withoutJson } = commonOptions;
  try {
    const { values, positionals } = parseArgs({
      args: head,
      options: { ...(json ? commonOptions : withoutJson), ...options } as typeof commonOptions & O,
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals, rest, hasDash: dash !== -1 };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ""));
    }
    throw err;
  }
}

/** Exactly `names.length` positionals, else a usage error naming the missing one. */
export function positionalArgs(positionals: string[], names: string[], optional: string[] = []): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`missing <${names[positionals.length]}>`);
  }
  if (positionals.length > names.length + optional.length) {
    throw new UsageError(`unexpected argument '${positionals[names.length + optional.length]}'`);
  }
  return positionals;
}

/** `KEY=VALUE` pairs from a repeatable flag (`--env A=1 --env B=2`), keys non-empty. */
export function keyValues(flag: string, pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${flag} needs KEY=VALUE, got '${pair}'`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** A whole number in `[min, max]` from a flag, or undefined when the flag is absent. */
export function intFlag(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} needs a whole number from ${min} to ${max}, got '${value}'`);
  }
  return Number(value);
}

/** A comma-separated or repeated list flag (`--state running,paused`). */
export function listFlag(values: string[] | undefined): string[] | undefined {
  const out = (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
  return out.length ? out : undefined;
}
