/**
 * Template builds end to end on a real host agent (QEMU microVMs) and control plane (in-process,
 * real PostgreSQL and Redis, BullMQ workers), through the REST API:
 *   - full build (skip_cache) of a small recipe: a CPU-heavy RUN, a COPY, a last RUN
 *   - rebuild with only the last step changed (the cached layer of the steps before it is reused)
 *   - build done → first sandbox: create from the built image template (boots) and from a built
 *     snapshot template (start command running; restores)
 *
 *   node --import tsx bench/template-builds.ts [--runs 3]
 *
 * Needs root (network namespaces), qemu-system-x86 and the guest image, like the host-agent benches.
 */
import { parseArgs } from "node:util";
import { call, signupUser } from "@wrenn/testing/app";
import { startTestAppWithHost } from "@wrenn/testing/app-with-host";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
const runs = Number(values.runs);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? Number.NaN;
  return `median ${at(50).toFixed(0)} ms, p95 ${at(95).toFixed(0)} ms (n=${s.length})`;
}

const h = await startTestAppWithHost({ name: "bench-builds" });
const { t } = h;
await t.app.builds.start();
const token = (await signupUser(t.app, "Bench")).token;

async function build(body: Record<string, unknown>): Promise<{ ms: number; logs: string }> {
  const started = performance.now();
  const res = await call(t.app, "POST", "/v1/builds", { token, body: { skip_pre_post: true, ...body } });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
  for (;;) {
    const b = await call(t.app, "GET", `/v1/builds/${res.body.id}`, { token });
    if (["ready", "error", "cancelled"].includes(b.body.status)) {
      const logs = await call(t.app, "GET", `/v1/builds/${res.body.id}/logs?limit=5000`, { token });
      const text = (logs.body.logs as { message: string }[]).map((l) => l.message).join("\n");
      if (b.body.status !== "ready") throw new Error(`build ${b.body.status}: ${b.body.error}\n${text}`);
      return { ms: performance.now() - started, logs: text };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function firstSandbox(template: string): Promise<number> {
  const started = performance.now();
  const res = await call(t.app, "POST", "/v1/sandboxes", { token, body: { template, timeout_sec: 0 } });
  const ms = performance.now() - started;
  if (res.status !== 201) throw new Error(`create: ${res.status} ${JSON.stringify(res.body)}`);
  await call(t.app, "DELETE", `/v1/sandboxes/${res.body.id}`, { token });
  return ms;
}

const files = [{ path: "app/main.py", content: Buffer.from("print('bench')\n").toString("base64") }];
const recipe = (round: string, last: string) =>
  [
    `RUN head -c 40000000 /dev/urandom | sha256sum > ~/digest-${round}`,
    "COPY app/ ./app/",
    `RUN echo ${last} > ~/last.txt`,
  ].join("\n");

const full: number[] = [];
const lastChanged: number[] = [];
const imageFirst: number[] = [];
const snapshotFirst: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const round = `r${i}-${Date.now()}`;
    const a = await build({ name: "bench-image", recipe: recipe(round, "one"), files, skip_cache: true });
    full.push(a.ms);
    const b = await build({ name: "bench-image", recipe: recipe(round, "two"), files });
    if (!/reused from the layer cache/.test(b.logs)) throw new Error(`no cache hit:\n${b.logs}`);
    lastChanged.push(b.ms);
    imageFirst.push(await firstSandbox("bench-image"));
    await build({
      name: "bench-server",
      recipe: `${recipe(round, "three")}\nSTART python3 -m http.server 8077\nREADY python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8077/')"`,
      files,
    });
    snapshotFirst.push(await firstSandbox("bench-server"));
    process.stderr.write(
      `round ${i + 1}/${runs}: full ${full.at(-1)?.toFixed(0)} ms, last step changed ${lastChanged.at(-1)?.toFixed(0)} ms, ` +
        `first sandbox image ${imageFirst.at(-1)?.toFixed(0)} ms / snapshot ${snapshotFirst.at(-1)?.toFixed(0)} ms\n`,
    );
  }
  console.log(`full build (3 steps, skip_cache):        ${stats(full)}`);
  console.log(`rebuild, only the last step changed:      ${stats(lastChanged)}`);
  console.log(`ratio rebuild / full (medians):           ${(median(lastChanged) / median(full)).toFixed(2)}`);
  console.log(`build done → first sandbox, image tpl:    ${stats(imageFirst)}`);
  console.log(`build done → first sandbox, snapshot tpl: ${stats(snapshotFirst)}`);
} finally {
  await t.app.builds.close();
  await h.close();
}
