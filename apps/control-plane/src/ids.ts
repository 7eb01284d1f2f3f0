import { errors } from "@wrenn/common";

/** Wire prefixes of each resource's id (`usr-<uuid>`, `team-<uuid>`, …). */
export const idPrefixes = {
  user: "usr",
  team: "team",
  apiKey: "key",
  auditLog: "evt",
  host: "host",
  sandbox: "sb",
  template: "tpl",
  build: "bld",
  channel: "ch",
} as const;

/** A resource kind with a wire id. */
export type IdKind = keyof typeof idPrefixes;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The wire form of a database UUID. */
export function formatId(kind: IdKind, uuid: string): string {
  return `${idPrefixes[kind]}-${uuid}`;
}

/** The UUID inside a wire id, or undefined when `wire` is not a well-formed id of `kind`. */
export function tryParseId(kind: IdKind, wire: string): string | undefined {
  const prefix = `${idPrefixes[kind]}-`;
  if (!wire.startsWith(prefix)) return undefined;
  const uuid = wire.slice(prefix.length).toLowerCase();
  return UUID.test(uuid) ? uuid : undefined;
}

/**
 * The UUID inside a wire id. A malformed id of a resource looked up by path
 * cannot exist, so it is `not_found` (same answer as another team's resource).
 */
export function parseIdOrNotFound(kind: IdKind, wire: string, what: string): string {
  const id = tryParseId(kind, wire);
  if (!id) throw errors.notFound(`${what} not found`);
  return id;
}

/** Like {@link parseIdOrNotFound} for ids in request bodies, where a malformed id is `invalid_argument`. */
export function parseIdOrInvalid(kind: IdKind, wire: string, field: string): string {
  const id = tryParseId(kind, wire);
  if (!id) throw errors.invalidArgument(`${field} must be a ${idPrefixes[kind]}-<uuid> id`);
  return id;
}
