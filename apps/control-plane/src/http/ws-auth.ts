import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { httpStatusByCode, type Logger } from "@wrenn/common";
import type { Credentials } from "../services/authenticator.ts";
import { toWrennError } from "./errors.ts";
import { rejectUpgrade } from "./upgrade.ts";

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The REST credentials (`X-API-Key`, `Authorization: Bearer`) of an upgrade request. */
export function credentialsOf(req: IncomingMessage): Credentials {
  return { authorization: header(req, "authorization"), apiKey: header(req, "x-api-key") };
}

/**
 * Answers a refused upgrade the way REST answers the same error: the status of
 * `httpStatusByCode` and a `{code, message}` body; causes are logged, never sent.
 */
export function rejectWithError(socket: Duplex, err: unknown, log: Logger): number {
  const e = toWrennError(err);
  const status = httpStatusByCode[e.code];
  if (status >= 500) log.error({ err: e.cause ?? e, code: e.code }, e.message);
  rejectUpgrade(socket, status, { code: e.code, message: e.message });
  return status;
}
