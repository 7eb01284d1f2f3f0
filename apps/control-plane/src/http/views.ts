import { z } from "@hono/zod-openapi";
import type { ApiKey, ApiKeyListing, AuditLog, Member, Team, TeamRole, User } from "@wrenn/db";
import { formatId } from "../ids.ts";

// Wire shapes and the functions that produce them from rows.

/** A team role. */
export const RoleSchema = z.enum(["owner", "admin", "member"]).openapi("Role");

/** A user on the wire. */
export const UserSchema = z
  .object({
    id: z.string().openapi({ example: "usr-0b6f3c52-6c1e-4d8a-9a55-2c1f0e9d7a10" }),
    email: z.string(),
    name: z.string(),
    is_admin: z.boolean(),
    created_at: z.string(),
  })
  .openapi("User");

/** The wire form of a user row. */
export function userView(u: User): z.infer<typeof UserSchema> {
  return {
    id: formatId("user", u.id),
    email: u.email,
    name: u.name,
    is_admin: u.isAdmin,
    created_at: u.createdAt.toISOString(),
  };
}

/** A team on the wire, optionally with the caller's role and default flag. */
export const TeamSchema = z
  .object({
    id: z.string().openapi({ example: "team-5d2e…" }),
    name: z.string(),
    slug: z.string().openapi({ example: "a1b2c3-d1e2f3" }),
    is_byoc: z.boolean(),
    created_at: z.string(),
    role: RoleSchema.optional().openapi({ description: "The caller's role in this team" }),
    is_default: z.boolean().optional(),
  })
  .openapi("Team");

/** The wire form of a team row. */
export function teamView(t: Team, role?: TeamRole, isDefault?: boolean): z.infer<typeof TeamSchema> {
  return {
    id: formatId("team", t.id),
    name: t.name,
    slug: t.slug,
    is_byoc: t.isByoc,
    created_at: t.createdAt.toISOString(),
    ...(role ? { role } : {}),
    ...(isDefault === undefined ? {} : { is_default: isDefault }),
  };
}

/** The answer of signup, login and switch-team. */
export const SessionSchema = z
  .object({ token: z.string(), user: UserSchema, team: TeamSchema })
  .openapi("Session");

/** An API key as listed (never the key itself). */
export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ example: "wrn_AbCd1234" }),
    created_by: z.object({ id: z.string(), email: z.string(), name: z.string() }).nullable(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
  })
  .openapi("ApiKey");

/** The wire form of an API key row (creator from the listing join or passed in). */
export function apiKeyView(k: ApiKeyListing | ApiKey, creator?: User): z.infer<typeof ApiKeySchema> {
  const email = "creatorEmail" in k ? k.creatorEmail : (creator?.email ?? null);
  const name = "creatorName" in k ? k.creatorName : (creator?.name ?? null);
  return {
    id: formatId("apiKey", k.id),
    name: k.name,
    prefix: k.keyPrefix,
    created_by:
      k.createdBy && email !== null ? { id: formatId("user", k.createdBy), email, name: name ?? "" } : null,
    created_at: k.createdAt.toISOString(),
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
  };
}

/** A team member on the wire. */
export const MemberSchema = z
  .object({
    user_id: z.string(),
    email: z.string(),
    name: z.string(),
    role: RoleSchema,
    joined_at: z.string(),
  })
  .openapi("Member");

/** The wire form of a membership. */
export function memberView(m: Member): z.infer<typeof MemberSchema> {
  return {
    user_id: formatId("user", m.userId),
    email: m.email,
    name: m.name,
    role: m.role,
    joined_at: m.joinedAt.toISOString(),
  };
}

/** An audit event on the wire. */
export const AuditLogSchema = z
  .object({
    id: z.string(),
    team_id: z.string().nullable(),
    actor: z.object({ type: z.string(), id: z.string(), name: z.string() }),
    resource_type: z.string(),
    resource_id: z.string(),
    action: z.string(),
    scope: z.enum(["team", "admin"]),
    status: z.enum(["success", "info", "warning", "error"]),
    metadata: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .openapi("AuditLog");

/** The wire form of an audit log row. */
export function auditView(a: AuditLog): z.infer<typeof AuditLogSchema> {
  return {
    id: formatId("auditLog", a.id),
    team_id: a.teamId ? formatId("team", a.teamId) : null,
    actor: { type: a.actorType, id: a.actorId, name: a.actorName },
    resource_type: a.resourceType,
    resource_id: a.resourceId,
    action: a.action,
    scope: a.scope,
    status: a.status,
    metadata: a.metadata,
    created_at: a.createdAt.toISOString(),
  };
}

/** One page of audit events on the wire (the team's trail and the platform-wide one alike). */
export const AuditLogPageSchema = z.object({
  items: z.array(AuditLogSchema),
  next_cursor: z.string().nullable(),
});

/** The wire form of a page of audit rows; the cursor is the last row's id (`evt-…`). */
export function auditPageView(page: {
  items: AuditLog[];
  nextCursor: string | null;
}): z.infer<typeof AuditLogPageSchema> {
  return {
    items: page.items.map(auditView),
    next_cursor: page.nextCursor ? formatId("auditLog", page.nextCursor) : null,
  };
}
