/**
 * A user's program for E2B's domain mode, run by `domain-mode.vm.test.ts` as its own Node process:
 * the official `e2b` SDK configured by `E2B_DOMAIN` and `E2B_API_KEY` alone (API at
 * `https://api.{domain}`, envd and ports at `https://{port}-{id}.{domain}`), trusting the deployment's
 * CA through `NODE_EXTRA_CA_CERTS` as a user of a private domain would. The one test-only part is the
 * resolver: every name under `WRENN_TEST_DOMAIN` resolves to `WRENN_TEST_ADDRESS` (no DNS server).
 * Prints what it observed as one JSON line; the test asserts on it.
 */
import dns from "node:dns";

const domain = process.env.WRENN_TEST_DOMAIN ?? "";
const address = process.env.WRENN_TEST_ADDRESS ?? "";
if (!domain || !address) throw new Error("WRENN_TEST_DOMAIN and WRENN_TEST_ADDRESS are required");

type LookupCallback = (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void;
const systemLookup = dns.lookup;
// net and tls read dns.lookup at connect time, so undici (the SDK's and fetch's) resolves through this.
(dns as { lookup: unknown }).lookup = (hostname: string, options: unknown, callback?: LookupCallback) => {
  const cb = (typeof options === "function" ? options : callback) as LookupCallback;
  const name = hostname.toLowerCase();
  if (name !== domain && !name.endsWith(`.${domain}`)) {
    return (systemLookup as (...args: unknown[]) => void)(hostname, options, callback);
  }
  const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all;
  if (all) process.nextTick(cb, null, [{ address, family: 4 }]);
  else process.nextTick(cb, null, address, 4);
};

const { Sandbox } = await import("e2b");

async function until<T>(what: string, attempt: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const seen: Record<string, unknown> = {};
const sbx = await Sandbox.create({ timeoutMs: 300_000, metadata: { suite: "domain-mode" } });
try {
  seen.sandboxId = sbx.sandboxId;
  seen.envdHost = sbx.getHost(49983);
  seen.listed = (await Sandbox.list({ query: { metadata: { suite: "domain-mode" } } }).nextItems()).map(
    (s) => s.sandboxId,
  );
  const token = (sbx as unknown as { envdAccessToken?: string }).envdAccessToken ?? "";
  const health = await fetch(`https://${sbx.getHost(49983)}/health`, {
    headers: { "X-Access-Token": token },
  });
  seen.health = { status: health.status, body: await health.text() };
  seen.stdout = (await sbx.commands.run("echo over-https")).stdout;
  await sbx.files.write("/home/user/in.txt", "written over https\n");
  seen.read = await sbx.files.read("/home/user/in.txt");

  // Signed URLs: no credential but the signature, straight at {port}-{id}.{domain}.
  const uploadUrl = await sbx.uploadUrl("/home/user/up.txt", { useSignatureExpiration: 120 });
  seen.uploadUrl = uploadUrl;
  const form = new FormData();
  form.append("file", new Blob(["uploaded by url\n"]), "up.txt");
  seen.uploadStatus = (await fetch(uploadUrl, { method: "POST", body: form })).status;
  seen.uploaded = await sbx.files.read("/home/user/up.txt");
  const downloadUrl = await sbx.downloadUrl("/home/user/in.txt");
  const download = await fetch(downloadUrl);
  seen.download = { status: download.status, body: await download.text() };
  const forged = new URL(downloadUrl);
  forged.searchParams.set("signature", "v1_forged");
  seen.forgedStatus = (await fetch(forged)).status;

  // A port of the sandbox, reached with its access token (and refused without a credential).
  await sbx.commands.run("python3 -m http.server 8000 --directory /home/user", { background: true });
  const portUrl = `https://${sbx.getHost(8000)}/in.txt`;
  seen.portUrl = portUrl;
  seen.port = await until("the sandbox's web server", async () => {
    const res = await fetch(portUrl, { headers: { "X-Access-Token": token } });
    return res.status === 200 ? { status: res.status, body: await res.text() } : undefined;
  });
  seen.portWithoutToken = (await fetch(portUrl)).status;
} finally {
  seen.killed = await sbx.kill();
}
console.log(JSON.stringify(seen));
