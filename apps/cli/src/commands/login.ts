import type { Options } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { parse, positionalArgs } from "../lib/args.ts";
import { configPath, DEFAULT_API_URL, normalizeUrl, readConfig, writeConfig } from "../lib/config.ts";
import { CliError } from "../lib/errors.ts";
import { singleCommand } from "../lib/group.ts";
import { details, json } from "../lib/output.ts";
import { ask, askSecret, readStdin } from "../lib/prompt.ts";
import { ApiError, apiRequest } from "../lib/rest.ts";

const USAGE = `Usage: wrenn login [--api-key KEY] [--url URL] [--json]

Checks an API key against the control plane (GET /v1/me) and saves it with the URL to
~/.config/wrenn/config.json (or $XDG_CONFIG_HOME/wrenn/config.json), readable by you only (0600).
Without --api-key the key is taken from WRENN_API_KEY, else asked for on the terminal (not
echoed), else read from standard input (echo "$KEY" | wrenn login). Without --url: WRENN_API_URL,
else asked for on a terminal (default: the saved URL or ${DEFAULT_API_URL}).
Later commands use the saved values; WRENN_API_KEY and WRENN_API_URL override them.

Options:
  --api-key KEY   a team API key (wrn_…), created with POST /v1/api-keys or the dashboard
  --url URL       the control plane, e.g. ${DEFAULT_API_URL}
  --json          print {api_url, team, api_key, config_path} as JSON`;

/** What `GET /v1/me` answers (the fields login shows). */
interface Me {
  user: { email?: string; name?: string } | null;
  team: { id: string; name: string };
  auth: { type: string; api_key?: { id: string; name: string } };
}

const options = { "api-key": { type: "string" }, url: { type: "string" } } as const satisfies Options;

async function login(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, options);
  positionalArgs(positionals, []);
  const path = configPath();
  const stored = await readConfig(path);
  const interactive = Boolean(process.stdin.isTTY);

  let url = values.url ?? process.env.WRENN_API_URL;
  if (!url) {
    const fallback = stored.apiUrl ?? DEFAULT_API_URL;
    url = interactive ? await ask(`Wrenn API URL [${fallback}]: `, fallback) : fallback;
  }
  const apiUrl = normalizeUrl(url);
  let apiKey = values["api-key"] ?? process.env.WRENN_API_KEY;
  if (!apiKey) apiKey = interactive ? await askSecret("API key: ") : (await readStdin()).split("\n")[0];
  apiKey = apiKey?.trim();
  if (!apiKey)
    throw new CliError("no API key given (--api-key, WRENN_API_KEY or standard input)", ExitCode.usage);

  let me: Me;
  try {
    me = await apiRequest<Me>({ apiUrl, apiKey }, "GET", "/v1/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      throw new CliError(`${apiUrl} rejected the API key: ${err.message}`, ExitCode.unauthenticated);
    }
    throw err;
  }
  await writeConfig({ apiUrl, apiKey }, path);
  const keyName = me.auth.api_key?.name ?? "-";
  if (values.json) {
    process.stdout.write(
      json({ api_url: apiUrl, team: me.team, api_key: me.auth.api_key ?? null, config_path: path }),
    );
  } else {
    console.log(`Logged in to ${apiUrl} as team ${me.team.name} (${me.team.id}).`);
    console.log(
      details([
        ["Key name", keyName],
        ["Saved to", path],
      ]),
    );
  }
  return ExitCode.ok;
}

/** `wrenn login [--api-key KEY] [--url URL]`. */
export const command = singleCommand("login", {
  summary: "Save an API key and control plane URL for later commands",
  usage: USAGE,
  options,
  run: login,
});
