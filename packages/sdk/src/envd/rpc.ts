// envd's Connect side: the Connect clients, the generated protobuf code and what needs its values.
// Loaded on the first envd call only ({@link EnvdConnection.rpc}): evaluating the generated
// descriptors and Connect costs tens of milliseconds at start-up, which a program that only uses
// the REST API (`Sandbox.list`, `wrenn sandbox list`) should not pay.
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  EventType,
  Filesystem,
  FileType,
  Process,
  type ProcessSelector,
  ProcessSelectorSchema,
  Signal,
} from "@wrenn/proto";
import { errorFromHttp } from "../errors.ts";
import { abortableBody } from "./abortable-body.ts";

/** Seconds between the keepalive events envd sends on long streams (proxies drop idle ones). */
const KEEPALIVE_SECONDS = 30;

/**
 * fetch for the Connect transport. A refusal by the port proxy (401 bad token,
 * 404 unknown sandbox, 502 not running, 503 host down) is a JSON error
 * answer the Connect client would report only as a bare HTTP status on
 * streaming calls; it becomes the typed error here (the transport keeps it as
 * the cause, and {@link errorFromConnect} unwraps it). Aborting the call's signal
 * always ends the response body ({@link abortableBody}): streams stop on `stop()`/kill.
 */
async function typedErrorFetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
  const res = await globalThis.fetch(input, init);
  if (res.ok || !(res.headers.get("content-type") ?? "").includes("json")) {
    return abortableBody(res, init?.signal);
  }
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  throw errorFromHttp(res.status, await res.text(), url.pathname.slice(1));
}

/** The selector of a process by pid. */
function pidSelector(pid: number): ProcessSelector {
  return create(ProcessSelectorSchema, { selector: { case: "pid", value: pid } });
}

/**
 * Connect clients of one sandbox's envd (`process.Process`, `filesystem.Filesystem`) plus the
 * generated values the SDK's modules need once they talk to envd. Every request carries the
 * routing headers of the connection (read per request: they name the sandbox and its token).
 */
export function envdRpc(apiUrl: string, routingHeaders: () => Record<string, string>) {
  const routing: Interceptor = (next) => async (req) => {
    for (const [key, value] of Object.entries(routingHeaders())) req.header.set(key, value);
    if (req.stream) req.header.set("keepalive-ping-interval", String(KEEPALIVE_SECONDS));
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: apiUrl,
    interceptors: [routing],
    fetch: typedErrorFetch,
  });
  return {
    process: createClient(Process, transport),
    filesystem: createClient(Filesystem, transport),
    pidSelector,
    timestampDate,
    EventType,
    FileType,
    Signal,
  };
}

/** What {@link envdRpc} answers: the clients and the generated values. */
export type EnvdRpc = ReturnType<typeof envdRpc>;
