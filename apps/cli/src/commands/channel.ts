import { readFile } from "node:fs/promises";
import { type ChannelInfo, Channels, type ChannelTestResult } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { keyValues, listFlag, parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { CliError, UsageError } from "../lib/errors.ts";
import { commandGroup } from "../lib/group.ts";
import { ago, details, json, table } from "../lib/output.ts";

/** A channel as `--json` prints it (the REST field names). */
function channelJson(c: ChannelInfo) {
  return {
    id: c.channelId,
    name: c.name,
    provider: c.provider,
    events: c.events,
    config: c.config,
    enabled: c.enabled,
    disabled_reason: c.disabledReason,
    last_delivery: c.lastDelivery ? { ...c.lastDelivery, at: c.lastDelivery.at.toISOString() } : null,
    consecutive_failures: c.consecutiveFailures,
    created_at: c.createdAt.toISOString(),
  };
}

function lastDelivery(c: ChannelInfo): string {
  if (!c.lastDelivery) return "-";
  const when = ago(c.lastDelivery.at);
  return c.lastDelivery.status === "delivered"
    ? `delivered ${when}`
    : `failed ${when}: ${c.lastDelivery.error}`;
}

function channelDetails(c: ChannelInfo): string {
  return details([
    ["ID", c.channelId],
    ["Name", c.name],
    ["Provider", c.provider],
    ["Events", c.events.join(", ")],
    ...Object.entries(c.config).map(([k, v]): [string, string] => [`Config ${k}`, v]),
    ["Enabled", c.enabled ? "yes" : `no (${c.disabledReason})`],
    ["Last delivery", lastDelivery(c)],
  ]);
}

const configOptions = {
  set: { type: "string", multiple: true },
  "config-file": { type: "string" },
} as const satisfies Options;

/**
 * The provider config from `--set KEY=VALUE` (repeatable) and/or `--config-file FILE` (a JSON
 * object; `-` reads stdin, which keeps secrets out of shell history and `ps`).
 */
async function readConfig(values: {
  set?: string[];
  "config-file"?: string;
}): Promise<Record<string, string>> {
  let fromFile: Record<string, string> = {};
  const file = values["config-file"];
  if (file) {
    const text =
      file === "-"
        ? await readStdin()
        : await readFile(file, "utf8").catch((err: Error) => {
            throw new UsageError(`--config-file: cannot read ${file}: ${err.message}`);
          });
    try {
      const parsed = JSON.parse(text) as unknown;
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      fromFile = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
    } catch {
      throw new UsageError("--config-file must hold a JSON object of provider fields");
    }
  }
  const config = { ...fromFile, ...keyValues("set", values.set) };
  if (Object.keys(config).length === 0)
    throw new UsageError("give the provider config with --set KEY=VALUE or --config-file");
  return config;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function reportTest(result: ChannelTestResult, asJson: boolean | undefined): number {
  if (asJson) process.stdout.write(json(result));
  else if (result.ok) console.log(`Test message delivered (HTTP ${result.status}).`);
  else console.error(`Test message not delivered: ${result.error}`);
  return result.ok ? ExitCode.ok : ExitCode.failure;
}

const addOptions = {
  provider: { type: "string" },
  events: { type: "string", multiple: true },
  "no-test": { type: "boolean", default: false },
  ...configOptions,
} as const satisfies Options;

const add: Subcommand = {
  summary: "Add a notification channel (sends a test message first)",
  usage: `Usage: wrenn channel add <name> --provider PROVIDER (--set KEY=VALUE ... | --config-file FILE|-)
                         [--events TYPE,...] [--no-test] [--json]

Providers and their fields: 'wrenn channel providers'. A test message is sent first and the
channel is saved only when it is delivered (--no-test saves without sending). Secrets given
through --config-file - (stdin) stay out of shell history and the process list.

Options:
  --provider PROVIDER     discord, slack, teams, google_chat, telegram, matrix or webhook
  --set KEY=VALUE         a config field (repeatable)
  --config-file FILE      a JSON object of config fields ('-' reads stdin)
  --events TYPE,...       event types to send (default: all)
  --no-test               save without sending a test message
  --json                  print the channel as JSON`,
  options: addOptions,
  async run(argv) {
    const { values, positionals } = parse(argv, addOptions);
    const [name] = positionalArgs(positionals, ["name"]) as [string];
    if (!values.provider) throw new UsageError("missing --provider");
    const config = await readConfig(values);
    const conn = await connection();
    if (!values["no-test"]) {
      const result = await Channels.test({ ...conn, provider: values.provider, config, name });
      if (!result.ok)
        throw new CliError(
          `test message not delivered: ${result.error} (nothing saved; --no-test saves anyway)`,
        );
    }
    const channel = await Channels.create({
      ...conn,
      name,
      provider: values.provider,
      config,
      events: listFlag(values.events),
    });
    if (values.json) process.stdout.write(json(channelJson(channel)));
    else console.log(`Added channel ${channel.name} (${channel.channelId}).\n${channelDetails(channel)}`);
    return ExitCode.ok;
  },
};

const list: Subcommand = {
  summary: "List the team's channels with their last delivery",
  usage: `Usage: wrenn channel list [--json]

Options:
  --json   print a JSON array`,
  async run(argv) {
    const { values, positionals } = parse(argv, {});
    positionalArgs(positionals, []);
    const channels = await Channels.list(await connection());
    if (values.json) process.stdout.write(json(channels.map(channelJson)));
    else
      console.log(
        table(channels, [
          { header: "NAME", value: (c) => c.name },
          { header: "ID", value: (c) => c.channelId },
          { header: "PROVIDER", value: (c) => c.provider },
          { header: "EVENTS", value: (c) => String(c.events.length), right: true },
          { header: "ENABLED", value: (c) => (c.enabled ? "yes" : "no") },
          { header: "LAST DELIVERY", value: lastDelivery },
        ]),
      );
    return ExitCode.ok;
  },
};

const testOptions = { provider: { type: "string" }, ...configOptions } as const satisfies Options;

const test: Subcommand = {
  summary: "Send a test message through a saved channel, or with a config not saved yet",
  usage: `Usage: wrenn channel test <channel-id> [--json]
       wrenn channel test --provider PROVIDER (--set KEY=VALUE ... | --config-file FILE|-) [--json]

Exits 0 when the service accepted the message, 1 when not (the reason is printed).

Options:
  --provider PROVIDER   test an unsaved config of this provider
  --set KEY=VALUE       a config field (repeatable)
  --config-file FILE    a JSON object of config fields ('-' reads stdin)
  --json                print {ok, status|error}`,
  options: testOptions,
  async run(argv) {
    const { values, positionals } = parse(argv, testOptions);
    const conn = await connection();
    if (values.provider) {
      positionalArgs(positionals, []);
      return reportTest(
        await Channels.test({ ...conn, provider: values.provider, config: await readConfig(values) }),
        values.json,
      );
    }
    const [id] = positionalArgs(positionals, ["channel-id"]) as [string];
    return reportTest(await Channels.testSaved(id, conn), values.json);
  },
};

const rotate: Subcommand = {
  summary: "Replace config fields of a channel (a rotated token, webhook URL or signing secret)",
  usage: `Usage: wrenn channel rotate <channel-id> (--set KEY=VALUE ... | --config-file FILE|-) [--json]

Fields left out keep their value. Follow with 'wrenn channel test <channel-id>'.

Options:
  --set KEY=VALUE       a config field (repeatable)
  --config-file FILE    a JSON object of config fields ('-' reads stdin)
  --json                print the channel as JSON`,
  options: configOptions,
  async run(argv) {
    const { values, positionals } = parse(argv, configOptions);
    const [id] = positionalArgs(positionals, ["channel-id"]) as [string];
    const channel = await Channels.rotateConfig(id, await readConfig(values), await connection());
    if (values.json) process.stdout.write(json(channelJson(channel)));
    else console.log(`Updated the config of ${channel.name} (${channel.channelId}).`);
    return ExitCode.ok;
  },
};

const remove: Subcommand = {
  summary: "Delete a channel",
  usage: `Usage: wrenn channel delete <channel-id>`,
  json: false,
  async run(argv) {
    const { positionals } = parse(argv, {}, { json: false });
    const [id] = positionalArgs(positionals, ["channel-id"]) as [string];
    await Channels.delete(id, await connection());
    console.log(`Deleted channel ${id}.`);
    return ExitCode.ok;
  },
};

const providersCmd: Subcommand = {
  summary: "List the providers with their config fields, and the event types",
  usage: `Usage: wrenn channel providers [--json]

Options:
  --json   print {providers, events}`,
  async run(argv) {
    const { values, positionals } = parse(argv, {});
    positionalArgs(positionals, []);
    const catalog = await Channels.catalog(await connection());
    if (values.json) {
      process.stdout.write(json(catalog));
      return ExitCode.ok;
    }
    for (const p of catalog.providers) {
      console.log(`${p.id} (${p.label})`);
      for (const f of p.fields) {
        console.log(
          `  --set ${f.name}=…${f.required ? "" : " (optional)"}${f.secret ? " [secret]" : ""}  ${f.description}`,
        );
      }
    }
    console.log(`\nEvent types: ${catalog.events.map((e) => e.type).join(", ")}`);
    return ExitCode.ok;
  },
};

/** `wrenn channel add|list|test|rotate|delete|providers`. */
export const command = commandGroup(
  "channel",
  "Notify Slack, Discord, Teams, Telegram, Matrix or a webhook of lifecycle events",
  {
    add,
    list,
    test,
    rotate,
    delete: remove,
    providers: providersCmd,
  },
);
