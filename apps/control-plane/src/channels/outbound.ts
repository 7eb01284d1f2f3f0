import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";

/** Why an outbound delivery failed, in words that never contain the URL (it may hold a token). */
export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  /** False when retrying cannot help (e.g. the address is refused by policy, 4xx other than 429). */
  constructor(
    message: string,
    readonly retryable = true,
  ) {
    super(message);
  }
}

/** One HTTP request a provider wants sent. */
export interface OutboundRequest {
  url: string;
  method?: "POST" | "PUT";
  headers?: Record<string, string>;
  body: string;
}

/** The receiver's answer (body cut at the size limit). */
export interface OutboundResponse {
  status: number;
  body: string;
}

/** Limits and the private-address policy of {@link OutboundClient}. */
export interface OutboundOptions {
  timeoutMs?: number;
  maxResponseBytes?: number;
  maxRedirects?: number;
  /**
   * Addresses that may be reached although private, loopback or link-local: CIDRs or single
   * addresses (`127.0.0.1/32`, `10.0.0.0/8`, `::1`), or `*` for any (`WRENN_CHANNELS_ALLOW_PRIVATE`).
   */
  allowPrivate?: string[];
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** An IPv4 address carried in an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`), else the address itself. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/** Parses the allow-list setting into a check; throws on a malformed entry. */
export function parseAllowList(entries: string[]): (address: string) => boolean {
  if (entries.includes("*")) return () => true;
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = "", bits] = entry.split("/");
    const family = isIP(addr);
    if (!family) throw new Error(`'${entry}' is not an address or CIDR`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
        throw new Error(`'${entry}' has a bad prefix length`);
      }
      list.addSubnet(addr, prefix, type);
    }
  }
  return (address) => {
    const a = unmapped(address);
    return list.check(a, isIP(a) === 4 ? "ipv4" : "ipv6");
  };
}

/** True when `address` is loopback, private, link-local, multicast or otherwise not public. */
export function isNonPublicAddress(address: string): boolean {
  const a = unmapped(address);
  const family = isIP(a);
  if (!family) return true;
  return blocked.check(a, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Sends channel deliveries without letting a team reach the operator's network: every address a
 * name resolves to is checked (and the connection is pinned to the checked address, so a second
 * DNS answer cannot swap it), time and response size are bounded, and redirects are followed only
 * within the same origin.
 */
export class OutboundClient {
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #maxRedirects: number;
  readonly #allowed: (address: string) => boolean;

  constructor(options: OutboundOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxResponseBytes = options.maxResponseBytes ?? 64 * 1024;
    this.#maxRedirects = options.maxRedirects ?? 3;
    this.#allowed = parseAllowList(options.allowPrivate ?? []);
  }

  /** Sends `req`; resolves with any HTTP answer, rejects with a {@link DeliveryError} when none came. */
  async send(req: OutboundRequest): Promise<OutboundResponse> {
    let url = parseUrl(req.url);
    const origin = url.origin;
    const deadline = Date.now() + this.#timeoutMs;
    for (let hop = 0; ; hop++) {
      const res = await this.#once(url, req, deadline);
      if (res.status < 300 || res.status >= 400 || !res.location) return res;
      if (hop >= this.#maxRedirects) throw new DeliveryError("too many redirects", false);
      const next = parseUrl(new URL(res.location, url).toString());
      if (next.origin !== origin)
        throw new DeliveryError(`redirect to another host (${next.host}) refused`, false);
      url = next;
    }
  }

  /** Resolves `host` and returns its first address, refusing non-public ones unless allowed. */
  async resolve(host: string): Promise<{ address: string; family: number }> {
    const bare = host.replace(/^\[|\]$/g, "");
    let answers: { address: string; family: number }[];
    if (isIP(bare)) answers = [{ address: bare, family: isIP(bare) }];
    else {
      try {
        answers = await dnsLookup(bare, { all: true, verbatim: true });
      } catch {
        throw new DeliveryError(`cannot resolve ${bare}`);
      }
    }
    if (answers.length === 0) throw new DeliveryError(`cannot resolve ${bare}`);
    // Every answer must pass: a name that also resolves to 10.x is refused even if a public address comes first.
    for (const a of answers) {
      if (isNonPublicAddress(a.address) && !this.#allowed(a.address)) {
        throw new DeliveryError(
          `${bare} resolves to ${a.address}, a private/loopback/link-local address; deliveries there are refused (WRENN_CHANNELS_ALLOW_PRIVATE)`,
          false,
        );
      }
    }
    return answers[0] as { address: string; family: number };
  }

  async #once(
    url: URL,
    req: OutboundRequest,
    deadline: number,
  ): Promise<OutboundResponse & { location?: string }> {
    const target = await this.resolve(url.hostname);
    const pinned: LookupFunction = (_host, options, cb) => {
      if ((options as { all?: boolean }).all) cb(null, [target]);
      else cb(null, target.address, target.family);
    };
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new DeliveryError(`timed out after ${this.#timeoutMs} ms`);
    const client = url.protocol === "https:" ? https : http;
    const body = Buffer.from(req.body);
    return new Promise((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: req.method ?? "POST",
          headers: { "user-agent": "Wrenn-Notifications/1", ...req.headers, "content-length": body.length },
          lookup: pinned,
          agent: false,
          signal: AbortSignal.timeout(remaining),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            if (size >= this.#maxResponseBytes) return;
            size += chunk.length;
            chunks.push(chunk);
            if (size >= this.#maxResponseBytes) res.destroy();
          });
          const done = () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).subarray(0, this.#maxResponseBytes).toString("utf8"),
              ...(res.headers.location ? { location: res.headers.location } : {}),
            });
          res.on("end", done);
          res.on("close", done);
          res.on("error", done);
        },
      );
      request.on("error", (err: NodeJS.ErrnoException) => {
        if (err.name === "AbortError" || err.name === "TimeoutError") {
          reject(new DeliveryError(`timed out after ${this.#timeoutMs} ms`));
        } else reject(new DeliveryError(`${url.host}: ${err.code ?? "connection failed"}`));
      });
      request.end(body);
    });
  }
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DeliveryError("not a valid URL", false);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new DeliveryError("only http and https URLs are allowed", false);
  }
  if (url.username || url.password) throw new DeliveryError("URLs with credentials are not allowed", false);
  return url;
}
