import { checkEgressPolicy, type EgressPolicy, errors } from "@wrenn/common";
import type { Sandbox } from "@wrenn/db";
import { z } from "zod";

const list = z.array(z.string().max(300)).nullish();

/** E2B's `SandboxNetworkUpdateConfig` (body of `PUT /sandboxes/{id}/network`). */
export const E2bNetworkUpdate = z.looseObject({
  allow_internet_access: z.boolean().optional(),
  allowOut: list,
  denyOut: list,
  rules: z.record(z.string(), z.unknown()).nullish(),
  egressProxy: z.unknown().optional(),
});

interface E2bNetworkLists {
  allowOut?: string[] | null | undefined;
  denyOut?: string[] | null | undefined;
  rules?: Record<string, unknown> | null | undefined;
  egressProxy?: unknown;
}

/**
 * The egress policy of an E2B create body (`allow_internet_access` + `network`) or update body
 * (the same lists at the top level): checked with E2B's rules, errors naming E2B's fields.
 * Per-domain header transforms and a SOCKS5 egress proxy would be silently dropped: refused.
 */
export function e2bEgress(
  body: E2bNetworkLists & {
    allow_internet_access?: boolean | undefined;
    network?: E2bNetworkLists | undefined;
  },
): EgressPolicy {
  const lists = body.network ?? body;
  const prefix = body.network ? "network." : "";
  if (lists.rules && Object.keys(lists.rules).length > 0) {
    throw errors.invalidArgument(`${prefix}rules (request transforms) are not supported by Wrenn`);
  }
  if (lists.egressProxy !== undefined && lists.egressProxy !== null) {
    throw errors.invalidArgument(`${prefix}egressProxy is not supported by Wrenn`);
  }
  return checkEgressPolicy(
    {
      allowInternet: body.allow_internet_access ?? true,
      allowOut: lists.allowOut ?? [],
      denyOut: lists.denyOut ?? [],
    },
    { allowOut: `${prefix}allowOut`, denyOut: `${prefix}denyOut` },
  );
}

/** The egress fields of E2B's `SandboxDetail`: `allowInternetAccess` and `network`'s lists when set. */
export function e2bNetworkDetail(s: Sandbox) {
  const lists = {
    ...(s.allowOut.length ? { allowOut: s.allowOut } : {}),
    ...(s.denyOut.length ? { denyOut: s.denyOut } : {}),
  };
  return { allowInternetAccess: s.allowInternet, ...(Object.keys(lists).length ? { network: lists } : {}) };
}
