/**
 * Control plane sandbox benchmark, end to end over real HTTP: a listening control
 * plane (real PostgreSQL, Redis) with its registered in-process host agent on real
 * QEMU microVMs (`startTestDeployment`). Every comparison is measured in the same run,
 * interleaved, so machine load affects both sides alike.
 *
 *   node --import tsx bench/control-plane-sandboxes.ts
 *
 * BENCH_RUNS (default 20): create-to-first-exec runs and file transfers per path.
 * BENCH_EXEC_RUNS (default 50): exec pairs (REST vs the agent's Connect `Exec`).
 * BENCH_FILE_MB (default 16): size of each file transferred.
 * BENCH_SECTIONS (default `create,exec,files`): which parts to run.
 * BENCH_NETWORK (default `user`): the agent's `--network` (`netns` needs root).
 *
 * What is measured:
 * - create-to-first-exec: `POST /v1/sandboxes` then `POST …/exec {cmd:"true", args:[]}`.
 * - exec round trip: REST `POST …/exec` with `args: []` (the agent runs `true` directly)
 *   and as a shell line (`/bin/bash -l -c true`), vs the agent's Connect `Exec` called
 *   directly over h2c with the same command.
 * - control plane overhead: REST `POST …/ping` vs the agent's `PingSandbox` called
 *   directly (no guest work, so TCG's exec jitter does not hide the few ms the control
 *   plane adds: API key check, team-scoped PostgreSQL lookup, its own h2c call).
 * - file MB/s: 1. the control plane's `files/stream/write` / `files/stream/read`;
 *   2. the agent's `StreamWriteFile` / `StreamReadFile` RPCs called directly (what the
 *   control plane calls); 3. envd's own `POST`/`GET /files` on the address the agent
 *   uses for it (user-mode networking forwards a loopback port to the guest's 49983; netns
 *   reaches the guest at its slot's host address), with
 *   the sandbox's access token: the floor, no Wrenn process in the path.
 */
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { loadavg } from "node:os";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HostAgentService } from "@wrenn/proto";
import { startTestDeployment } from "@wrenn/testing/deployment";
import { quantile, RUNS, report, summary, timed } from "./host-agent-common.ts";

const EXEC_RUNS = Math.max(1, Number(process.env.BENCH_EXEC_RUNS || 50));
const FILE_MB = Math.max(1, Number(process.env.BENCH_FILE_MB || 16));
const FILE_BYTES = FILE_MB * 2 ** 20;
const CHUNK = 256 * 1024;
/** Which parts run (BENCH_SECTIONS=create,exec,files; default all). */
const sections = new Set((process.env.BENCH_SECTIONS || "create,exec,files").split(","));

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
console.log(`load average at start: ${load()}; agent network: ${process.env.BENCH_NETWORK || "user"}`);

// netns is the production networking; user-mode (QEMU slirp) is what the tests use.
const network = process.env.BENCH_NETWORK || "user";
const d = await startTestDeployment({ agentArgs: ["--network", network] });
const agent = createClient(
  HostAgentService,
  createConnectTransport({ baseUrl: `http://127.0.0.1:${d.agent.server.port}`, httpVersion: "2" }),
);
const json = { "x-api-key": d.apiKey, "content-type": "application/json" };

async function rest(method: string, path: string, body?: unknown) {
  const res = await fetch(`${d.url}${path}`, {
    method,
    headers: json,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function restExec(id: string, body: Record<string, unknown>) {
  const r = await rest("POST", `/v1/sandboxes/${id}/exec`, body);
  if (r.exit_code !== 0) throw new Error(`exec failed: ${JSON.stringify(r)}`);
}

/** One HTTP exchange with node:http (no read-ahead of the body, unlike fetch): answers status and byte count. */
function transfer(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer | string | undefined,
): Promise<{ status: number; bytes: number; sha256: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      const hash = createHash("sha256");
      let bytes = 0;
      let text = "";
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
        if (text.length < 4096) text += c.toString("latin1").slice(0, 4096);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest("hex"), text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (typeof body === "string" || body === undefined) {
      req.end(body);
      return;
    }
    let at = 0;
    const pump = () => {
      while (at < body.length) {
        const piece = body.subarray(at, at + CHUNK);
        at += piece.length;
        if (!req.write(piece)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

const mbps = (ms: number) => FILE_BYTES / 2 ** 20 / (ms / 1000);

/** Prints a transfer's times and the rates they mean (p95 time = the slow tail's rate). */
function reportRate(name: string, ms: number[]): number {
  const s = summary(ms);
  console.log(
    `${name.padEnd(44)} n=${String(s.n).padStart(3)}  median ${mbps(s.median).toFixed(1).padStart(6)} MB/s (${s.median.toFixed(0)} ms)  p95 ${mbps(s.p95).toFixed(1).padStart(6)} MB/s (${s.p95.toFixed(0)} ms)`,
  );
  return mbps(s.median);
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)] ?? Number.NaN;

try {
  if (sections.has("create")) {
    // 1. Create to first exec, through the REST API.
    console.log(`\ncreate-to-first-exec over REST (${RUNS} runs)`);
    const createThenExec: number[] = [];
    const createOnly: number[] = [];
    const firstExec: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const sb = await rest("POST", "/v1/sandboxes", { timeout_sec: 0 });
      const t1 = performance.now();
      await restExec(sb.id, { cmd: "true", args: [] });
      const t2 = performance.now();
      createOnly.push(t1 - t0);
      firstExec.push(t2 - t1);
      createThenExec.push(t2 - t0);
      await rest("DELETE", `/v1/sandboxes/${sb.id}`);
    }
    report("POST /v1/sandboxes + first exec `true`", createThenExec);
    report("  of which POST /v1/sandboxes", createOnly);
    report("  of which the first exec", firstExec);
  }

  const sb = await rest("POST", "/v1/sandboxes", { timeout_sec: 0 });
  const id: string = sb.id;
  const token: string = sb.envd_access_token;
  for (let i = 0; i < 5; i++) await restExec(id, { cmd: "true", args: [] }); // warm the guest's paths
  if (sections.has("exec")) {
    // 2. Exec round trip: REST vs the agent's Connect Exec, interleaved on one sandbox.
    console.log(`\nexec \`true\` round trip (${EXEC_RUNS} rounds, one sandbox, order alternating per round)`);
    const viaRest: number[] = [];
    const viaShell: number[] = [];
    const direct: number[] = [];
    const directExec = async () => {
      const r = await agent.exec({ sandboxId: id, command: { cmd: "true" } });
      if (r.exitCode !== 0) throw new Error(`direct exec failed: ${r.error}`);
    };
    for (let i = 0; i < EXEC_RUNS; i++) {
      if (i % 2 === 0) {
        direct.push(await timed(directExec));
        viaRest.push(await timed(() => restExec(id, { cmd: "true", args: [] })));
      } else {
        viaRest.push(await timed(() => restExec(id, { cmd: "true", args: [] })));
        direct.push(await timed(directExec));
      }
      viaShell.push(await timed(() => restExec(id, { cmd: "true" })));
    }
    const r = report("REST exec {cmd:true, args:[]}", viaRest);
    const a = report("agent Connect Exec {cmd:true} (direct)", direct);
    report("REST exec {cmd:true} (bash -l -c)", viaShell);
    const pairDiffs = viaRest.map((v, i) => v - (direct[i] ?? 0));
    console.log(
      `exec: REST minus direct, median ${(r.median - a.median).toFixed(1)} ms (median of per-round differences ${median(pairDiffs).toFixed(1)} ms), ratio REST / direct ${(r.median / a.median).toFixed(2)}`,
    );

    // The guest's share of an exec varies by hundreds of ms under TCG, which hides a few ms
    // of control plane work; ping touches no guest (agent: in-memory timer reset), so REST
    // ping vs the agent's PingSandbox isolates the control plane's part of a sandbox call:
    // API key check, team-scoped lookup, host lookup, its h2c call, `last_active_at` update.
    console.log(
      `\ncontrol plane overhead over a direct agent call (${EXEC_RUNS * 2} rounds, order alternating)`,
    );
    const restPing: number[] = [];
    const agentPing: number[] = [];
    const restGet: number[] = [];
    for (let i = 0; i < EXEC_RUNS * 2; i++) {
      const viaCp = () => rest("POST", `/v1/sandboxes/${id}/ping`);
      const viaAgent = () => agent.pingSandbox({ sandboxId: id });
      if (i % 2 === 0) {
        agentPing.push(await timed(viaAgent));
        restPing.push(await timed(viaCp));
      } else {
        restPing.push(await timed(viaCp));
        agentPing.push(await timed(viaAgent));
      }
      restGet.push(await timed(() => rest("GET", `/v1/sandboxes/${id}`)));
    }
    const rp = report("REST POST /v1/sandboxes/{id}/ping", restPing);
    const ap = report("agent Connect PingSandbox (direct)", agentPing);
    report("REST GET /v1/sandboxes/{id} (no agent call)", restGet);
    const pingDiffs = restPing.map((v, i) => v - (agentPing[i] ?? 0));
    console.log(
      `control plane overhead: median ${(rp.median - ap.median).toFixed(1)} ms, p95 of per-round differences ${quantile(pingDiffs, 0.95).toFixed(1)} ms (target ≤ 15 ms)`,
    );
  }

  if (sections.has("files")) {
    // 3. File throughput: control plane vs agent RPC vs envd itself, interleaved.
    const envd = d.agent.manager.envd(id);
    const envdBase = `http://${envd.host}:${envd.port}`;
    const content = randomBytes(FILE_BYTES);
    const sha = createHash("sha256").update(content).digest("hex");
    console.log(`\nfile transfer, ${FILE_MB} MB each (${RUNS} runs per path and direction)`);
    const times = { cpUp: [] as number[], cpDown: [] as number[], rpcUp: [] as number[] };
    const more = { rpcDown: [] as number[], envdUp: [] as number[], envdDown: [] as number[] };
    const check = (what: string, got: { status: number; bytes?: number; sha256?: string; text?: string }) => {
      if (got.status !== 200) throw new Error(`${what}: ${got.status} ${got.text ?? ""}`);
    };
    for (let i = 0; i < RUNS; i++) {
      const path = `/home/user/bench-${i % 2}.bin`;
      times.cpUp.push(
        await timed(async () => {
          const res = await transfer(
            `${d.url}/v1/sandboxes/${id}/files/stream/write?path=${path}`,
            "POST",
            { "x-api-key": d.apiKey, "content-type": "application/octet-stream" },
            content,
          );
          check("control plane upload", res);
        }),
      );
      times.cpDown.push(
        await timed(async () => {
          const res = await transfer(
            `${d.url}/v1/sandboxes/${id}/files/stream/read`,
            "POST",
            json,
            JSON.stringify({ path }),
          );
          check("control plane download", res);
          if (res.bytes !== FILE_BYTES || (i === 0 && res.sha256 !== sha))
            throw new Error("download mismatch");
        }),
      );
      times.rpcUp.push(
        await timed(async () => {
          async function* messages() {
            yield { payload: { case: "metadata" as const, value: { sandboxId: id, path, user: "" } } };
            for (let at = 0; at < content.length; at += CHUNK) {
              yield { payload: { case: "chunk" as const, value: content.subarray(at, at + CHUNK) } };
            }
          }
          const res = await agent.streamWriteFile(messages());
          if (Number(res.entry?.sizeBytes) !== FILE_BYTES) throw new Error("agent upload size mismatch");
        }),
      );
      more.rpcDown.push(
        await timed(async () => {
          let bytes = 0;
          for await (const m of agent.streamReadFile({ sandboxId: id, path, user: "" })) {
            if (m.payload.case === "chunk") bytes += m.payload.value.length;
          }
          if (bytes !== FILE_BYTES) throw new Error("agent download size mismatch");
        }),
      );
      const q = new URLSearchParams({ path });
      more.envdUp.push(
        await timed(async () => {
          const res = await transfer(
            `${envdBase}/files?${q}`,
            "POST",
            { "x-access-token": token, "content-type": "application/octet-stream" },
            content,
          );
          check("envd upload", res);
        }),
      );
      more.envdDown.push(
        await timed(async () => {
          const res = await transfer(`${envdBase}/files?${q}`, "GET", { "x-access-token": token }, undefined);
          check("envd download", res);
          if (res.bytes !== FILE_BYTES || (i === 0 && res.sha256 !== sha))
            throw new Error("envd download mismatch");
        }),
      );
    }
    const rows: [string, number[]][] = [
      ["up   control plane files/stream/write", times.cpUp],
      ["up   agent StreamWriteFile (direct)", times.rpcUp],
      ["up   envd POST /files (direct)", more.envdUp],
      ["down control plane files/stream/read", times.cpDown],
      ["down agent StreamReadFile (direct)", more.rpcDown],
      ["down envd GET /files (direct)", more.envdDown],
    ];
    const rates: Record<string, number> = {};
    for (const [name, t] of rows) rates[name] = reportRate(name, t);
    const ratio = (a: string, b: string) => ((rates[a] ?? 0) / (rates[b] ?? 1)).toFixed(2);
    console.log(
      `ratio control plane / envd (median MB/s): up ${ratio(rows[0]?.[0] ?? "", rows[2]?.[0] ?? "")}, down ${ratio(rows[3]?.[0] ?? "", rows[5]?.[0] ?? "")}`,
    );
    console.log(
      `ratio agent RPC / envd (median MB/s):     up ${ratio(rows[1]?.[0] ?? "", rows[2]?.[0] ?? "")}, down ${ratio(rows[4]?.[0] ?? "", rows[5]?.[0] ?? "")}`,
    );
  }
  await rest("DELETE", `/v1/sandboxes/${id}`);
} finally {
  await d.close();
  console.log(`\nload average at end: ${load()}`);
}
