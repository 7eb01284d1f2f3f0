import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A request a {@link Receiver} got. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

/** A loopback HTTP server standing in for an external service (Slack, Telegram, …) in tests. */
export interface Receiver {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  requests: ReceivedRequest[];
  /** Answers the next requests with these statuses in turn (then `fallback`). */
  script(statuses: number[]): void;
  /** Waits until `n` requests arrived (or fails after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/**
 * Starts a receiver. `respond` decides each answer (default: the scripted status or `fallback`,
 * with `body`).
 */
export async function startReceiver(
  options: {
    fallback?: number;
    body?: string;
    respond?: (req: ReceivedRequest, res: ServerResponse) => void;
  } = {},
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const scripted: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const received = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body, json };
      requests.push(received);
      if (options.respond) return options.respond(received, res);
      res.writeHead(scripted.shift() ?? options.fallback ?? 200, { "content-type": "application/json" });
      res.end(options.body ?? "{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (statuses) => scripted.push(...statuses),
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${requests.length} of ${n} requests`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
