import { errors } from "@wrenn/common";
import type { SystemClock } from "../clock.ts";
import type { EnvdContext } from "../context.ts";
import { type HttpRequest, type HttpResponse, readSmallBody } from "./respond.ts";

/** The JSON body of `POST /init` (E2B's fields plus the sandbox identity). */
export interface InitRequest {
  envVars?: Record<string, string>;
  accessToken?: string;
  timestamp?: string;
  defaultUser?: string;
  defaultWorkdir?: string;
  sandboxId?: string;
  templateId?: string;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw errors.invalidArgument(`${field} must be a string`);
  return value;
}

/** Validates the untrusted JSON of an `/init` call. */
export function parseInitRequest(raw: unknown): InitRequest {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw errors.invalidArgument("body must be a JSON object");
  }
  const body = raw as Record<string, unknown>;
  let envVars: Record<string, string> | undefined;
  if (body.envVars !== undefined && body.envVars !== null) {
    if (typeof body.envVars !== "object" || Array.isArray(body.envVars)) {
      throw errors.invalidArgument("envVars must be an object of strings");
    }
    envVars = {};
    for (const [key, value] of Object.entries(body.envVars as Record<string, unknown>)) {
      if (typeof value !== "string" || key === "" || key.includes("=") || key.includes("\0")) {
        throw errors.invalidArgument(`invalid environment variable '${key}'`);
      }
      envVars[key] = value;
    }
  }
  return {
    envVars,
    accessToken: optionalString(body.accessToken, "accessToken"),
    timestamp: optionalString(body.timestamp, "timestamp"),
    defaultUser: optionalString(body.defaultUser, "defaultUser"),
    defaultWorkdir: optionalString(body.defaultWorkdir, "defaultWorkdir"),
    sandboxId: optionalString(body.sandboxId, "sandboxId"),
    templateId: optionalString(body.templateId, "templateId"),
  };
}

/**
 * `POST /init`: called by the host after boot and after every restore. Sets
 * the env vars, access token, default user/workdir and identity, and starts
 * bringing the clock in line with the host's timestamp. Answers 204.
 */
export async function handleInit(
  ctx: EnvdContext,
  clock: SystemClock,
  req: HttpRequest,
  res: HttpResponse,
): Promise<void> {
  const text = (await readSmallBody(req)).toString("utf8");
  let raw: unknown = {};
  if (text.trim() !== "") {
    try {
      raw = JSON.parse(text);
    } catch {
      throw errors.invalidArgument("body is not valid JSON");
    }
  }
  const init = parseInitRequest(raw);
  if (init.defaultUser !== undefined && init.defaultUser !== "") {
    try {
      ctx.users.resolve(init.defaultUser);
    } catch {
      throw errors.invalidArgument(`user '${init.defaultUser}' does not exist`);
    }
  }
  if (init.timestamp !== undefined && ctx.config.clockSync) {
    const hostTime = Date.parse(init.timestamp);
    if (Number.isNaN(hostTime)) throw errors.invalidArgument("timestamp must be RFC 3339");
    // Only step the clock when it is noticeably off; small drifts are not worth a jump.
    // The step runs after the answer: requests arriving meanwhile wait for it (see app.ts), so
    // a command started after /init still sees the host's time, but the sandbox's first answer
    // does not wait for the helper.
    if (Math.abs(hostTime - Date.now()) > 50) {
      void clock.set(hostTime).catch((err) => ctx.logger.warn({ err }, "could not set the clock"));
    }
  }
  const { state } = ctx;
  if (init.envVars) state.envVars = { ...state.envVars, ...init.envVars };
  if (init.accessToken) state.accessToken = init.accessToken;
  if (init.defaultUser) state.defaultUser = init.defaultUser;
  if (init.defaultWorkdir) state.defaultWorkdir = init.defaultWorkdir;
  if (init.sandboxId) state.sandboxId = init.sandboxId;
  if (init.templateId) state.templateId = init.templateId;
  ctx.logger.info({ sandboxId: state.sandboxId, templateId: state.templateId }, "initialized");
  res.writeHead(204).end();
}
