import { afterEach, describe, expect, it, vi } from "vitest";
import { runCli } from "./cli.ts";
import type { Subcommand } from "./command.ts";
import { commands, summaries } from "./registry.ts";

// The whole command tree, read from the registry (not a hand-kept list): a command added
// to `registry.ts` or a subcommand added to a group is checked here without touching this file.

interface Node {
  path: string[];
  /** A group's subcommand names. */
  subs?: string[];
  /** A leaf's declaration (flags, --json). */
  spec?: Subcommand;
}

async function commandTree(): Promise<Node[]> {
  const nodes: Node[] = [{ path: [], subs: Object.keys(commands) }];
  for (const [name, load] of Object.entries(commands)) {
    const { command } = await load();
    if (command.subcommands) {
      nodes.push({ path: [name], subs: Object.keys(command.subcommands) });
      for (const [sub, spec] of Object.entries(command.subcommands)) nodes.push({ path: [name, sub], spec });
    } else {
      nodes.push({ path: [name], spec: command.spec });
    }
  }
  return nodes;
}

const tree = await commandTree();
const leaves = tree.filter((n) => !n.subs);
const groups = tree.filter((n) => n.subs);
const label = (n: Node) => ["wrenn", ...n.path].join(" ");

/** Runs `wrenn …` in-process, capturing what it prints. */
async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const text = (a: unknown[]) => `${a.map(String).join(" ")}\n`;
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(text(a)));
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(text(a)));
  vi.spyOn(process.stdout, "write").mockImplementation((c) => out.push(String(c)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((c) => err.push(String(c)) > 0);
  try {
    const code = await runCli(argv);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("the command tree", () => {
  it("has every command and subcommand the issue lists", () => {
    const paths = tree.map((n) => n.path.join(" "));
    for (const p of [
      "up",
      "login",
      ...["create", "list", "get", "exec", "shell", "pause", "resume", "fork", "kill", "logs"].map(
        (s) => `sandbox ${s}`,
      ),
      "files put",
      "files get",
      "files ls",
      "snapshot create",
      "snapshot list",
      "snapshot delete",
      "host register",
      "image build",
    ]) {
      expect(paths).toContain(p);
    }
  });

  it("declares every leaf (its flags and --json), so the checks below cover it", () => {
    for (const n of leaves) expect(n.spec, label(n)).toBeDefined();
  });

  it("lists in `wrenn --help` the summary each command module declares (kept in the registry)", async () => {
    expect(Object.keys(summaries).sort()).toEqual(Object.keys(commands).sort());
    for (const [name, load] of Object.entries(commands)) {
      expect(summaries[name], name).toBe((await load()).command.summary);
    }
    const { stdout } = await run(["--help"]);
    for (const [name, summary] of Object.entries(summaries))
      expect(stdout).toContain(`${name.padEnd(10)} ${summary}`);
  });
});

describe.each(tree.map((n) => [label(n), n] as const))("%s", (name, node) => {
  it.each(["--help", "-h"])(`${name} %s prints its usage on stdout and exits 0`, async (flag) => {
    const r = await run([...node.path, flag]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const usage = node.path.length === 0 ? "Usage: wrenn <command>" : `Usage: ${name}`;
    expect(r.stdout.split("\n").some((l) => l.startsWith(usage))).toBe(true);
    for (const sub of node.subs ?? []) expect(r.stdout).toMatch(new RegExp(`^ {2}${sub} +\\S`, "m"));
    const spec = node.spec;
    if (!spec) return;
    for (const [flagName, opt] of Object.entries(spec.options ?? {})) {
      expect(r.stdout, `--${flagName} in the help`).toContain(`--${flagName}`);
      if (opt.short) expect(r.stdout, `-${opt.short} in the help`).toContain(`-${opt.short}`);
    }
    if (spec.json !== false) expect(r.stdout).toContain("--json");
  });

  if (node.spec) {
    const spec = node.spec;
    it(`${name} rejects an unknown flag with one line and exit 2`, async () => {
      const r = await run([...node.path, "--no-such-flag"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`${name}: Unknown option '--no-such-flag' (see '${name} --help')\n`);
    });
    if (spec.json === false) {
      it(`${name} prints no data and so rejects --json`, async () => {
        const r = await run([...node.path, "--json"]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/Unknown option '--json'/);
      });
    }
  }
});

describe("unknown commands", () => {
  it.each(groups.map((g) => [label(g), g.path] as const))(
    "%s nope: one line naming it, exit 2",
    async (name, path) => {
      const r = await run([...path, "nope"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const what = path.length === 0 ? "command" : "subcommand";
      expect(r.stderr).toBe(`${name}: unknown ${what} 'nope' (see '${name} --help')\n`);
    },
  );

  it("no command at all prints the usage on stderr with exit 2", async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Usage: wrenn <command>/);
  });
});
