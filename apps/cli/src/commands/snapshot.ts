import { Sandbox, type SnapshotInfo } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { UsageError } from "../lib/errors.ts";
import { commandGroup } from "../lib/group.ts";
import { ago, bytes, details, json, table } from "../lib/output.ts";
import { apiRequest } from "../lib/rest.ts";
import { withSpinner } from "../lib/spinner.ts";

/** A template's fields every answer has (the `--json` form of `snapshot create`). */
interface TemplateJson {
  id: string;
  name: string;
  type: string;
  vcpus: number;
  memory_mb: number;
  size_bytes: number;
  created_at: string;
}

/** A template as `GET /v1/snapshots` lists it (the `--json` form of `snapshot list`). */
interface ListedTemplateJson extends TemplateJson {
  team_id: string;
  platform: boolean;
  host_id: string | null;
}

function templateJson(s: SnapshotInfo): TemplateJson {
  return {
    id: s.snapshotId,
    name: s.name,
    type: s.type,
    vcpus: s.vcpus,
    memory_mb: s.memoryMb,
    size_bytes: s.sizeBytes,
    created_at: s.createdAt.toISOString(),
  };
}

function templateDetails(t: TemplateJson): string {
  return details([
    ["ID", t.id],
    ["Name", t.name],
    ["Type", t.type],
    ["vCPUs", String(t.vcpus)],
    ["Memory", `${t.memory_mb} MB`],
    ["Size", bytes(t.size_bytes)],
    ["Created", `${t.created_at} (${ago(t.created_at)})`],
  ]);
}

const createOptions = { name: { type: "string" } } as const satisfies Options;

const create: Subcommand = {
  summary: "Capture a running sandbox as a named template",
  usage: `Usage: wrenn snapshot create <sandbox-id> [--name NAME] [--json]

Captures the sandbox's memory and disk as a template; 'wrenn sandbox create --template NAME'
then starts new sandboxes where this one was. The sandbox keeps running. An existing snapshot
of the team with the same name is replaced.

Options:
  --name NAME   the template's name (default: one the control plane generates)
  --json        print the template as JSON`,
  options: createOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, createOptions);
    const [id] = positionalArgs(positionals, ["sandbox-id"]) as [string];
    const name = values.name;
    const conn = await connection();
    const snap = await withSpinner(
      `Snapshotting ${id}${name ? ` as ${name}` : ""}`,
      async () => {
        const sandbox = await Sandbox.connect(id, conn);
        return sandbox.createSnapshot({ name, requestTimeoutMs: 0 });
      },
      { json: values.json },
    );
    const template = templateJson(snap);
    if (values.json) process.stdout.write(json(template));
    else console.log(`Created snapshot ${template.name} (${template.id}).\n${templateDetails(template)}`);
    return ExitCode.ok;
  },
};

const listOptions = { type: { type: "string" } } as const satisfies Options;

const list: Subcommand = {
  summary: "List the team's snapshots and the platform's templates",
  usage: `Usage: wrenn snapshot list [--type snapshot|image] [--json]

Options:
  --type TYPE   only snapshots (RAM + disk) or images (a flattened disk)
  --json        print a JSON array`,
  options: listOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, listOptions);
    positionalArgs(positionals, []);
    if (values.type && values.type !== "snapshot" && values.type !== "image") {
      throw new UsageError(`--type must be snapshot or image, got '${values.type}'`);
    }
    const query = values.type ? `?type=${values.type}` : "";
    // The SDK has no snapshot listing; this is one of the two REST calls the CLI makes itself.
    const { templates } = await apiRequest<{ templates: ListedTemplateJson[] }>(
      await connection(),
      "GET",
      `/v1/snapshots${query}`,
    );
    if (values.json) process.stdout.write(json(templates));
    else {
      console.log(
        table(templates, [
          { header: "NAME", value: (t) => t.name },
          { header: "ID", value: (t) => t.id },
          { header: "TYPE", value: (t) => (t.platform ? `${t.type} (platform)` : t.type) },
          { header: "VCPUS", value: (t) => String(t.vcpus), right: true },
          { header: "MEMORY", value: (t) => `${t.memory_mb} MB`, right: true },
          { header: "SIZE", value: (t) => bytes(t.size_bytes), right: true },
          { header: "CREATED", value: (t) => ago(t.created_at) },
        ]),
      );
    }
    return ExitCode.ok;
  },
};

const remove: Subcommand = {
  summary: "Delete snapshots by name (their files on every host too)",
  usage: `Usage: wrenn snapshot delete <name>… [--json]

Deletes each snapshot of the team and its files on every host. Sandboxes already started
from it keep running. --json prints {deleted: [name…]}.`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    if (positionals.length === 0) throw new UsageError("missing <name>");
    const conn = await connection();
    const deleted: string[] = [];
    for (const name of positionals) {
      // Like `list`, deletion is not in the SDK: a direct REST call.
      await apiRequest(conn, "DELETE", `/v1/snapshots/${encodeURIComponent(name)}`);
      deleted.push(name);
      if (!values.json) console.log(`Deleted snapshot ${name}.`);
    }
    if (values.json) process.stdout.write(json({ deleted }));
    return ExitCode.ok;
  },
};

/** `wrenn snapshot create|list|delete`. */
export const command = commandGroup("snapshot", "Capture sandboxes as templates; list and delete them", {
  create,
  list,
  delete: remove,
});
