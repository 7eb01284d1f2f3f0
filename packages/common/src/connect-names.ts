import type { Code } from "@connectrpc/connect";
import type { ClientErrorCode } from "./errors.ts";

// The catalogue's Connect → Wrenn mapping, keyed by the codes' wire names so that it needs no
// Connect at run time (type imports only): the SDK reads Connect errors with it without loading
// `@connectrpc/connect` (and @bufbuild/protobuf), ~100+ ms, and `connect-codes.ts` derives its
// `Code`-keyed `errorCodeByConnectCode` from it.

/** The Connect protocol's code names as sent on the wire, in code order (`Code` 1–16). */
export const CONNECT_CODE_NAMES = [
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

/** A Connect code's wire name. */
export type ConnectCodeName = (typeof CONNECT_CODE_NAMES)[number];

/**
 * The one mapping back, from the Connect code an RPC failed with (by wire name) to the Wrenn code a
 * client sees. Codes with no counterpart of ours (cancelled, unknown, unimplemented, data loss) are
 * `internal`. A boundary with a narrower view (the control plane calling its agents) adjusts a few
 * on top.
 */
export const errorCodeByConnectName: Readonly<Record<ConnectCodeName, ClientErrorCode>> = {
  canceled: "internal",
  unknown: "internal",
  invalid_argument: "invalid_argument",
  deadline_exceeded: "deadline_exceeded",
  not_found: "not_found",
  already_exists: "already_exists",
  permission_denied: "permission_denied",
  resource_exhausted: "resource_exhausted",
  failed_precondition: "failed_precondition",
  aborted: "failed_precondition",
  out_of_range: "invalid_argument",
  unimplemented: "internal",
  internal: "internal",
  unavailable: "unavailable",
  data_loss: "internal",
  unauthenticated: "unauthenticated",
};

/** The wire name of Connect code `code` (`undefined` for a number that is no code). */
export function connectCodeName(code: Code | number): ConnectCodeName | undefined {
  return CONNECT_CODE_NAMES[code - 1];
}

/** The Wrenn code for a Connect code given by wire name (`undefined`: not a Connect code name). */
export function errorCodeOfConnectName(name: string): ClientErrorCode | undefined {
  return Object.hasOwn(errorCodeByConnectName, name)
    ? errorCodeByConnectName[name as ConnectCodeName]
    : undefined;
}
