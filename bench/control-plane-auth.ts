/**
 * Control plane auth benchmark (loopback): login latency (argon2id verify + JWT
 * sign + audit write) and authenticated `GET /v1/me` throughput with an API key
 * and with a JWT. The server runs as its own process against real PostgreSQL
 * and Redis, as in production; this process only generates load.
 *
 *   node --import tsx bench/control-plane-auth.ts [--seconds 10] [--concurrency 16] [--logins 100]
 */
import { parseArgs } from "node:util";
import { pct, startBenchControlPlane } from "./control-plane-common.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "16" },
    logins: { type: "string", default: "100" },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const logins = Number(values.logins);

const ms = (n: number) => `${n.toFixed(2)} ms`;

const cp = await startBenchControlPlane({
  env: { AUTH_RATE_LIMIT_PER_IP: "1000000", AUTH_RATE_LIMIT_PER_ACCOUNT: "1000000" },
});
const { base } = cp;

try {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const creds = { email: "bench@example.com", password: "correct horse battery staple" };
  const signup = (await (await post("/v1/auth/signup", { name: "Bench", ...creds })).json()) as {
    token: string;
  };
  const key = (
    (await (
      await post("/v1/api-keys", { name: "bench" }, { authorization: `Bearer ${signup.token}` })
    ).json()) as {
      key: string;
    }
  ).key;

  // Login: sequential, so each sample is one request's latency.
  for (let i = 0; i < 5; i++) await (await post("/v1/auth/login", creds)).arrayBuffer();
  const loginTimes: number[] = [];
  for (let i = 0; i < logins; i++) {
    const t0 = performance.now();
    const res = await post("/v1/auth/login", creds);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`login answered ${res.status}`);
    loginTimes.push(performance.now() - t0);
  }
  loginTimes.sort((a, b) => a - b);
  console.log(`login (${logins} sequential): p50 ${ms(pct(loginTimes, 50))}, p95 ${ms(pct(loginTimes, 95))}`);

  async function load(label: string, headers: Record<string, string>) {
    const times: number[] = [];
    let errors = 0;
    const end = performance.now() + seconds * 1000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          const res = await fetch(`${base}/v1/me`, { headers });
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
          times.push(performance.now() - t0);
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    times.sort((a, b) => a - b);
    console.log(
      `GET /v1/me ${label} (${concurrency} concurrent, ${seconds}s): ${(times.length / elapsed).toFixed(0)} req/s, ` +
        `p50 ${ms(pct(times, 50))}, p95 ${ms(pct(times, 95))}, errors ${errors}`,
    );
  }
  // Warm-up of both paths (JIT, pool connections, per-connection prepared statements):
  // the server's first few thousand requests are markedly slower.
  const warmUntil = performance.now() + 6000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const headers: Record<string, string> =
        i % 2 ? { "x-api-key": key } : { authorization: `Bearer ${signup.token}` };
      while (performance.now() < warmUntil) await (await fetch(`${base}/v1/me`, { headers })).arrayBuffer();
    }),
  );
  await load("with API key", { "x-api-key": key });
  await load("with JWT", { authorization: `Bearer ${signup.token}` });
} finally {
  await cp.stop();
}
