import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ExitCode } from "../exit-codes.ts";
import { CliError } from "./errors.ts";

/** What `wrenn login` saves. */
export interface StoredConfig {
  apiUrl?: string;
  apiKey?: string;
}

/** The credentials a command talks to the API with, and where each came from. */
export interface Credentials {
  apiUrl: string;
  apiKey: string;
  source: { apiUrl: "flag" | "env" | "config" | "default"; apiKey: "flag" | "env" | "config" };
}

/** Where the control plane is when nothing says otherwise: what `wrenn up` starts. */
export const DEFAULT_API_URL = "http://localhost:8080";

type Env = Record<string, string | undefined>;

/** `$XDG_CONFIG_HOME/wrenn/config.json`, else `~/.config/wrenn/config.json` (HOME from `env`). */
export function configPath(env: Env = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "wrenn", "config.json");
}

/** The saved config, or `{}` when there is none; a corrupt file is an error naming it. */
export async function readConfig(path: string = configPath()): Promise<StoredConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    const { apiUrl, apiKey } = value as Record<string, unknown>;
    return {
      ...(typeof apiUrl === "string" ? { apiUrl } : {}),
      ...(typeof apiKey === "string" ? { apiKey } : {}),
    };
  } catch (err) {
    throw new CliError(`${path} is not valid JSON (${(err as Error).message}); run 'wrenn login' again`);
  }
}

/**
 * Saves the config readable by the owner only: the directory is 0700 and the file is written
 * 0600 to a temporary name and renamed, so no reader ever sees a half-written key.
 */
export async function writeConfig(config: StoredConfig, path: string = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600); // an existing file keeps its mode on open; make sure
  await rename(tmp, path);
}

/** Strips trailing slashes and checks the URL is http(s). */
export function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`'${url}' is not a URL (expected e.g. ${DEFAULT_API_URL})`, ExitCode.usage);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CliError(`'${url}' must start with http:// or https://`, ExitCode.usage);
  }
  return url.replace(/\/+$/, "");
}

/**
 * Resolves the API URL and key: flags, then `WRENN_API_URL` / `WRENN_API_KEY`, then the saved
 * config (then the default URL). No key anywhere is exit code 4 with what to do about it.
 */
export function resolveCredentials(
  stored: StoredConfig,
  flags: { apiUrl?: string; apiKey?: string } = {},
  env: Env = process.env,
): Credentials {
  const url: [string, Credentials["source"]["apiUrl"]] = flags.apiUrl
    ? [flags.apiUrl, "flag"]
    : env.WRENN_API_URL
      ? [env.WRENN_API_URL, "env"]
      : stored.apiUrl
        ? [stored.apiUrl, "config"]
        : [DEFAULT_API_URL, "default"];
  const key: [string | undefined, Credentials["source"]["apiKey"]] = flags.apiKey
    ? [flags.apiKey, "flag"]
    : env.WRENN_API_KEY
      ? [env.WRENN_API_KEY, "env"]
      : [stored.apiKey, "config"];
  if (!key[0]) {
    throw new CliError(
      "not logged in: run 'wrenn login' or set WRENN_API_KEY (create a key with POST /v1/api-keys)",
      ExitCode.unauthenticated,
    );
  }
  return { apiUrl: normalizeUrl(url[0]), apiKey: key[0], source: { apiUrl: url[1], apiKey: key[1] } };
}

/** Credentials for a command: the saved config merged with the environment. */
export async function loadCredentials(env: Env = process.env): Promise<Credentials> {
  return resolveCredentials(await readConfig(configPath(env)), {}, env);
}
