import type { OpenAPIHono } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import type { Sandbox, SandboxState } from "@wrenn/db";
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/context.ts";
import { requireUserText } from "../http/user-text.ts";
import { formatId, parseIdOrInvalid, parseIdOrNotFound, tryParseId } from "../ids.ts";
import type { RouteDeps } from "../routes/deps.ts";
import { type MetricsRange, metricsRanges, type SandboxMetricsService } from "../services/sandbox-metrics.ts";
import { sandboxLimits } from "../services/sandbox-spec.ts";
import { SandboxDeadlines } from "./deadlines.ts";
import { e2bErrorResponse, readBody } from "./errors.ts";
import { E2bNetworkUpdate, e2bEgress } from "./network.ts";
import {
  type E2bState,
  e2bListedSandbox,
  e2bSandbox,
  e2bSandboxDetail,
  isGone,
  wrennStatesOf,
} from "./views.ts";

/** Where the E2B-compatible API is mounted: `E2B_API_URL=<control plane>/e2b`. */
export const E2B_PREFIX = "/e2b";

// E2B's default template is "base"; Wrenn's is "minimal".
const templateAliases: Record<string, string> = { base: "minimal" };

const stringMap = (maxKeys: number, field: string) =>
  z
    .record(z.string().min(1).max(128), z.string().max(4096))
    .refine((m) => Object.keys(m).length <= maxKeys, `at most ${maxKeys} ${field} entries`);

// Loose: fields of newer SDKs that change nothing here pass; the ones that would
// silently weaken what the caller asked for are refused below.
const NewSandbox = z.looseObject({
  templateID: z.string().min(1).max(256),
  timeout: z.number().int().optional(),
  autoPause: z.boolean().optional(),
  autoResume: z.looseObject({ enabled: z.boolean() }).nullish(),
  secure: z.boolean().optional(),
  allow_internet_access: z.boolean().optional(),
  metadata: stringMap(64, "metadata").nullish(),
  envVars: stringMap(256, "envVars").nullish(),
  mcp: z.unknown().optional(),
  volumeMounts: z.array(z.unknown()).optional(),
  network: z
    .looseObject({ allowOut: z.array(z.string()).optional(), denyOut: z.array(z.string()).optional() })
    .optional(),
});

const TimeoutBody = z.looseObject({ timeout: z.number().int() });
const ConnectBody = z.looseObject({
  timeout: z.number().int().optional(),
  autoPause: z.boolean().optional(),
});
const RefreshBody = z.looseObject({ duration: z.number().int().min(0).max(3600).optional() });

function checkTimeout(timeout: number): number {
  const { min, max } = sandboxLimits.timeoutSec;
  if (timeout < min || timeout > max)
    throw errors.invalidArgument(`timeout must be from ${min} to ${max} seconds`);
  return timeout;
}

// E2B's defaults: a sandbox created or resumed without a timeout runs 15 s.
const DEFAULT_TIMEOUT_SEC = 15;
// A paused sandbox resumed by connect without a timeout (the SDK sends none unless given
// `timeoutMs`) runs the SDK's default sandbox timeout, 300 s, rather than ending mid-use.
const CONNECT_DEFAULT_TIMEOUT_SEC = 300;

function refuseUnsupported(body: z.infer<typeof NewSandbox>): void {
  // E2B: auto-resume wakes a sandbox its timeout paused; one that is killed has nothing to wake.
  if (body.autoResume?.enabled && !body.autoPause) {
    throw errors.invalidArgument("autoResume needs autoPause (lifecycle.onTimeout 'pause')");
  }
  if (body.mcp !== undefined && body.mcp !== null)
    throw errors.invalidArgument("mcp is not supported by Wrenn");
  if (body.volumeMounts?.length) throw errors.invalidArgument("volumeMounts are not supported by Wrenn");
}

/** A paused sandbox has no end time to change: E2B asks for a connect first. */
function requireRunning(row: Sandbox): Sandbox {
  if (row.state !== "running")
    throw errors.failedPrecondition(`sandbox is ${row.state}; connect to it first`);
  return row;
}

/** `state=running,paused` (or repeated) → Wrenn states; `invalid_argument` for any other value. */
function parseStates(values: string[] | undefined): SandboxState[] {
  const named = (values ?? []).flatMap((v) => v.split(",")).filter(Boolean);
  const wanted = named.length ? named : ["running", "paused"];
  return wanted.flatMap((s) => {
    if (s !== "running" && s !== "paused") throw errors.invalidArgument("state must be running or paused");
    return wrennStatesOf[s as E2bState];
  });
}

/** E2B's metadata filter: `k=v&k2=v2` with each key and value URL-encoded once more. */
function parseMetadata(value: string | undefined): Record<string, string> | undefined {
  if (!value) return undefined;
  let pairs: string[][];
  try {
    pairs = [...new URLSearchParams(value)].map(([k, v]) => [decodeURIComponent(k), decodeURIComponent(v)]);
  } catch {
    throw errors.invalidArgument("metadata must be URL-encoded key=value pairs");
  }
  // Decoded here, past the boundary's user-text check: check again.
  return Object.fromEntries(
    pairs.map(([k = "", v = ""]) => [requireUserText(k, "metadata"), requireUserText(v, "metadata")]),
  );
}

/** E2B's `order`: by start time, newest first (`desc`, the default) or oldest first. */
function parseOrder(value: string | undefined): "asc" | "desc" | undefined {
  if (value === undefined || value === "") return undefined;
  if (value !== "asc" && value !== "desc") throw errors.invalidArgument("order must be asc or desc");
  return value;
}

/** E2B's `startedAfter`: an RFC 3339 date-time. */
function parseStartedAfter(value: string | undefined): Date | undefined {
  if (value === undefined || value === "") return undefined;
  const at = /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : undefined;
  if (!at || Number.isNaN(at.getTime()))
    throw errors.invalidArgument("startedAfter must be an RFC 3339 date-time");
  return at;
}

/** E2B's `template` filter: a template id (`tpl-…`) or name (E2B's alias; `base` is `minimal`). */
function parseTemplate(value: string | undefined): { template?: string; templateId?: string } {
  if (value === undefined || value === "") return {};
  const id = tryParseId("template", value);
  return id ? { templateId: id } : { template: templateAliases[value] ?? value };
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 100;
  const n = /^\d{1,3}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= 100)) throw errors.invalidArgument("limit must be an integer from 1 to 100");
  return n;
}

/** The smallest metrics range covering `seconds` back from now (at most 24 h). */
function rangeCovering(seconds: number): MetricsRange {
  const spans: Record<MetricsRange, number> = {
    "5m": 300,
    "10m": 600,
    "1h": 3600,
    "2h": 7200,
    "6h": 21_600,
    "12h": 43_200,
    "24h": 86_400,
  };
  return metricsRanges.find((r) => spans[r] >= seconds) ?? "24h";
}

function unixSeconds(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw errors.invalidArgument(`${field} must be a Unix time in seconds`);
  return Number(value);
}

/**
 * The subset of E2B's REST API that the official `e2b` SDK uses, under {@link E2B_PREFIX}:
 * thin adapters over the sandbox services, authenticated by Wrenn API keys (`X-API-KEY`),
 * with E2B's JSON shapes and error bodies. envd traffic itself goes through the port proxy.
 */
export function registerE2bRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { metrics: SandboxMetricsService; deadlines: SandboxDeadlines },
): void {
  const { deadlines } = deps;
  const sandboxes = deps.services.sandboxes;
  const e2b = new Hono<AppEnv>();
  e2b.onError((err, c) => e2bErrorResponse(err, c, c.get("log") ?? deps.log));
  e2b.use("*", deps.mw.requireAPIKeyOrJWT);

  const idOf = (wire: string) => parseIdOrNotFound("sandbox", wire, "sandbox");
  /** A sandbox that still exists for E2B (killed ones are 404, as in E2B). */
  const live = async (auth: AppEnv["Variables"]["auth"], wire: string): Promise<Sandbox> => {
    const row = await sandboxes.get(auth, idOf(wire));
    if (isGone(row.state)) throw errors.notFound(`sandbox ${wire} not found`);
    return row;
  };

  const create = async (c: Context<AppEnv>) => {
    const body = await readBody(c, NewSandbox);
    refuseUnsupported(body);
    const timeout = checkTimeout(body.timeout ?? DEFAULT_TIMEOUT_SEC);
    const { sandbox, envdAccessToken } = await sandboxes.create(c.get("auth"), {
      template: templateAliases[body.templateID] ?? body.templateID,
      // E2B's end time replaces Wrenn's inactivity timer (SandboxDeadlines).
      timeoutSec: 0,
      metadata: body.metadata ?? undefined,
      envs: body.envVars ?? undefined,
      egress: e2bEgress(body),
    });
    const onTimeout = body.autoPause ? "pause" : "kill";
    const autoResume = body.autoResume?.enabled ?? false;
    const started = await deadlines.begin(sandbox, timeout, { onTimeout, autoResume });
    return c.json(e2bSandbox(started, envdAccessToken), 201);
  };
  e2b.post("/sandboxes", create);
  e2b.post("/v2/sandboxes", create);

  e2b.get("/v2/sandboxes", async (c) => {
    const token = c.req.query("nextToken");
    const filters = {
      states: parseStates(c.req.queries("state")),
      metadata: parseMetadata(c.req.query("metadata")),
      ...parseTemplate(c.req.query("template")),
      startedAfter: parseStartedAfter(c.req.query("startedAfter")),
    };
    const page = await sandboxes.list(c.get("auth"), {
      ...filters,
      order: parseOrder(c.req.query("order")),
      cursor: token ? parseIdOrInvalid("sandbox", token, "nextToken") : undefined,
      limit: parseLimit(c.req.query("limit")),
    });
    if (page.nextCursor) c.header("x-next-token", formatId("sandbox", page.nextCursor));
    // E2B's X-Total-Running: the running sandboxes the filters match, before the cursor and the
    // limit; sent when the listing asks for running ones.
    if (filters.states.some((s) => wrennStatesOf.running.includes(s))) {
      const running = await sandboxes.count(c.get("auth"), { ...filters, states: wrennStatesOf.running });
      c.header("x-total-running", String(running));
    }
    return c.json(page.sandboxes.map(e2bListedSandbox));
  });

  // The v1 listing: running sandboxes only, unpaginated.
  e2b.get("/sandboxes", async (c) => {
    const auth = c.get("auth");
    const metadata = parseMetadata(c.req.query("metadata"));
    const all: Sandbox[] = [];
    let cursor: string | undefined;
    do {
      const page = await sandboxes.list(auth, {
        states: wrennStatesOf.running,
        metadata,
        cursor,
        limit: 100,
      });
      all.push(...page.sandboxes);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return c.json(all.map(e2bListedSandbox));
  });

  e2b.get("/sandboxes/:id", async (c) => {
    const row = await live(c.get("auth"), c.req.param("id"));
    return c.json(e2bSandboxDetail(row, sandboxes.envdAccessToken(row)));
  });

  e2b.delete("/sandboxes/:id", async (c) => {
    const row = await live(c.get("auth"), c.req.param("id"));
    await sandboxes.destroy(c.get("auth"), row.id);
    return c.body(null, 204);
  });

  e2b.post("/sandboxes/:id/pause", async (c) => {
    const row = await live(c.get("auth"), c.req.param("id"));
    await sandboxes.pause(c.get("auth"), row.id); // already paused: failed_precondition → 409, as in E2B
    return c.body(null, 204);
  });

  // E2B's older resume: the sandbox runs `timeout` (15 s) from now; `autoPause` picks its end.
  e2b.post("/sandboxes/:id/resume", async (c) => {
    const body = await readBody(c, ConnectBody);
    const timeout = checkTimeout(body.timeout ?? DEFAULT_TIMEOUT_SEC);
    const row = await live(c.get("auth"), c.req.param("id"));
    let resumed = await sandboxes.resume(c.get("auth"), row.id);
    if (SandboxDeadlines.governs(row) || body.autoPause !== undefined) {
      const autoPause = body.autoPause ?? row.onTimeout === "pause";
      resumed = await deadlines.begin(resumed, timeout, {
        onTimeout: autoPause ? "pause" : "kill",
        autoResume: row.autoResume,
      });
    }
    return c.json(e2bSandbox(resumed, sandboxes.envdAccessToken(row)), 201);
  });

  // Connect: resumes a paused sandbox (201) or keeps a running one alive (200).
  const connect = async (c: Context<AppEnv>) => {
    const body = await readBody(c, ConnectBody);
    const timeout = body.timeout === undefined ? undefined : checkTimeout(body.timeout);
    const auth = c.get("auth");
    const row = await live(auth, c.req.param("id") ?? "");
    const { sandbox, envdAccessToken } = await sandboxes.connect(auth, row.id);
    const wasPaused = row.state === "paused";
    let current: Sandbox;
    if (SandboxDeadlines.governs(row)) {
      // E2B: connect never shortens the end time; a resumed sandbox (no end while paused) gets one.
      const seconds = timeout ?? (wasPaused ? CONNECT_DEFAULT_TIMEOUT_SEC : undefined);
      current = seconds === undefined ? sandbox : await deadlines.extend(sandbox, seconds, wasPaused);
    } else {
      // Wrenn's inactivity timer: a timeout here raises a shorter one and never lowers it.
      current =
        timeout === undefined
          ? await sandboxes.ping(auth, row.id)
          : await sandboxes.keepAlive(auth, row.id, timeout);
    }
    return c.json(e2bSandbox({ ...sandbox, ...current }, envdAccessToken), wasPaused ? 201 : 200);
  };
  e2b.post("/sandboxes/:id/connect", connect);
  e2b.post("/v2/sandboxes/:id/connect", connect);

  // E2B's timeout is "end N seconds from now", earlier or later than before. A sandbox created
  // through /v1 keeps Wrenn's inactivity timer instead: the value becomes its inactivity timeout,
  // applied to the running VM at once. 0 means never (Wrenn), not "expire now".
  e2b.post("/sandboxes/:id/timeout", async (c) => {
    const timeout = checkTimeout((await readBody(c, TimeoutBody)).timeout);
    const row = await live(c.get("auth"), c.req.param("id"));
    if (SandboxDeadlines.governs(row)) await deadlines.reset(requireRunning(row), timeout);
    else await sandboxes.setTimeout(c.get("auth"), row.id, timeout);
    return c.body(null, 204);
  });
  // E2B's refresh keeps the sandbox alive for `duration` more seconds without ever shortening its
  // TTL: the countdown restarts, and a timeout shorter than `duration` is raised to it.
  e2b.post("/sandboxes/:id/refreshes", async (c) => {
    const { duration } = await readBody(c, RefreshBody);
    const row = await live(c.get("auth"), c.req.param("id"));
    if (SandboxDeadlines.governs(row)) {
      if (duration !== undefined) await deadlines.extend(requireRunning(row), duration, false);
    } else if (duration === undefined) await sandboxes.ping(c.get("auth"), row.id);
    else await sandboxes.keepAlive(c.get("auth"), row.id, duration);
    return c.body(null, 204);
  });

  // E2B's update-network: replaces the egress rules of a running sandbox (omitted lists are cleared).
  e2b.put("/sandboxes/:id/network", async (c) => {
    const egress = e2bEgress(await readBody(c, E2bNetworkUpdate));
    const row = await live(c.get("auth"), c.req.param("id"));
    await sandboxes.updateEgress(c.get("auth"), row.id, egress);
    return c.body(null, 204);
  });

  e2b.get("/sandboxes/:id/metrics", async (c) => {
    const now = Math.floor(Date.now() / 1000);
    const start = unixSeconds(c.req.query("start"), "start");
    const end = unixSeconds(c.req.query("end"), "end");
    const row = await live(c.get("auth"), c.req.param("id"));
    const m = await deps.metrics.get(
      c.get("auth"),
      row.id,
      rangeCovering(start === undefined ? 300 : now - start),
    );
    const inWindow = m.points.filter((p) => {
      const t = p.ts.getTime() / 1000;
      return (start === undefined || t >= start) && (end === undefined || t <= end);
    });
    return c.json(
      inWindow.map((p) => ({
        timestamp: p.ts.toISOString(),
        timestampUnix: Math.floor(p.ts.getTime() / 1000),
        cpuCount: row.vcpus,
        // Wrenn measures percent of one host CPU; E2B reports percent of the sandbox's CPUs.
        cpuUsedPct: p.cpuPct / Math.max(1, row.vcpus),
        memUsed: p.memBytes,
        memTotal: row.memoryMb * 1024 * 1024,
        memCache: 0,
        diskUsed: p.diskBytes,
        diskTotal: row.diskSizeMb * 1024 * 1024,
      })),
    );
  });

  e2b.all("*", (c) =>
    c.json({ code: 404, message: `no E2B-compatible route for ${c.req.method} ${c.req.path}` }, 404),
  );
  app.route(E2B_PREFIX, e2b);
}
