import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import type { HostWithTags } from "@wrenn/db";
import type { AgentReport } from "../hosts/reconcile.ts";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { formatId, parseIdOrInvalid, parseIdOrNotFound, tryParseId } from "../ids.ts";
import type { HostCredentials } from "../services/hosts.ts";
import type { RouteDeps } from "./deps.ts";

/** A host on the wire. */
export const HostSchema = z
  .object({
    id: z.string().openapi({ example: "host-…" }),
    type: z.enum(["regular", "byoc"]),
    team_id: z.string().nullable(),
    provider: z.string(),
    availability_zone: z.string(),
    arch: z.string(),
    cpu_count: z.number().int(),
    memory_mb: z.number().int(),
    disk_gb: z.number().int(),
    address: z.string().openapi({ example: "10.0.0.5:5007" }),
    status: z.enum(["pending", "online", "offline", "unreachable", "draining"]),
    last_heartbeat_at: z.string().nullable(),
    cert_expires_at: z
      .string()
      .nullable()
      .openapi({ description: "Expiry of the host's mTLS certificate; null when none was issued (no CA)" }),
    tags: z.array(z.string()),
    created_at: z.string(),
  })
  .openapi("Host");

/** The wire form of a host row. */
export function hostView(h: HostWithTags | (Omit<HostWithTags, "tags"> & { tags?: string[] })) {
  return {
    id: formatId("host", h.id),
    type: h.type,
    team_id: h.teamId ? formatId("team", h.teamId) : null,
    provider: h.provider,
    availability_zone: h.availabilityZone,
    arch: h.arch,
    cpu_count: h.cpuCount,
    memory_mb: h.memoryMb,
    disk_gb: h.diskGb,
    address: h.address,
    status: h.status,
    last_heartbeat_at: h.lastHeartbeatAt?.toISOString() ?? null,
    cert_expires_at: h.certExpiresAt?.toISOString() ?? null,
    tags: h.tags ?? [],
    created_at: h.createdAt.toISOString(),
  };
}

const TAG = /^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,62}$/;
const TagSchema = z.string().regex(TAG, "1-63 letters, digits, '.', '_', ':' or '-'");
// host:port with a DNS name, IPv4 or [IPv6] host.
const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})):(\d{1,5})$/;
const AddressSchema = z
  .string()
  .regex(ADDRESS, "must be host:port")
  .refine((a) => {
    const port = Number(a.slice(a.lastIndexOf(":") + 1));
    return port >= 1 && port <= 65535;
  }, "port must be 1-65535")
  .openapi({ example: "10.0.0.5:5007" });

const CreateBody = z
  .strictObject({
    type: z.enum(["regular", "byoc"]),
    team_id: z.string().optional().openapi({ description: "BYOC only; defaults to the current team" }),
    provider: z.string().max(100).optional(),
    availability_zone: z.string().max(100).optional(),
  })
  .openapi("CreateHostRequest");

const WithTokenSchema = z
  .object({
    host: HostSchema,
    registration_token: z.string().openapi({
      description:
        "One-time, valid 1 hour: `wrenn host register --token-file <file> --address ip:port --control-plane <url>` (or WRENN_REGISTRATION_TOKEN for the agent)",
    }),
  })
  .openapi("HostRegistrationToken");

const RegisterBody = z
  .strictObject({
    token: z.string().min(1).max(200),
    address: AddressSchema,
    arch: z.string().min(1).max(32),
    cpu_count: z.number().int().min(1).max(4096),
    memory_mb: z
      .number()
      .int()
      .min(1)
      .max(1 << 30),
    disk_gb: z
      .number()
      .int()
      .min(0)
      .max(1 << 30),
  })
  .openapi("RegisterHostRequest");

const CredentialsSchema = z
  .object({
    host: HostSchema,
    token: z.string().openapi({ description: "Host JWT (7 days), sent as X-Host-Token" }),
    refresh_token: z.string().openapi({ description: "Refresh token (60 days, single use)" }),
    cert_pem: z
      .string()
      .optional()
      .openapi({ description: "mTLS only: the agent's server certificate (7 days), PEM" }),
    key_pem: z.string().optional().openapi({ description: "mTLS only: its private key (PKCS#8), PEM" }),
    ca_cert_pem: z
      .string()
      .optional()
      .openapi({ description: "mTLS only: the CA whose client certificates the agent must require" }),
  })
  .openapi("HostCredentials");

/** The wire form of issued host credentials (the certificate fields only under mTLS). */
function credentialsView(creds: HostCredentials) {
  return {
    host: hostView({ ...creds.host, tags: [] }),
    token: creds.token,
    refresh_token: creds.refreshToken,
    ...(creds.tls
      ? { cert_pem: creds.tls.certPem, key_pem: creds.tls.keyPem, ca_cert_pem: creds.tls.caCertPem }
      : {}),
  };
}

/** Heartbeat answer header asking the agent to refresh now for a (new) certificate. */
export const RENEW_CERTIFICATE_HEADER = "x-wrenn-renew-certificate";

const IdParam = z.object({ id: z.string().openapi({ example: "host-…" }) });
const hostSecurity: Record<string, string[]>[] = [{ HostToken: [] }];

const WireSandboxId = z.string().min(1).max(100);
const HeartbeatBody = z
  .object({
    sandboxes: z
      .array(z.object({ sandbox_id: WireSandboxId, state: z.string().max(20) }))
      .max(10_000)
      .openapi({ description: "Sandboxes with a VM on the host and their agent state" }),
    auto_paused_sandbox_ids: z
      .array(WireSandboxId)
      .max(10_000)
      .openapi({ description: "Sandboxes the agent paused on its own (inactivity, shutdown)" }),
    base_image_bytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 50)
      .openapi({ description: "Size of the guest image: what the platform's `minimal` template takes" }),
    warm_pool: z
      .array(
        z.object({
          template_id: z.string().min(1).max(100),
          template_team_id: z.string().max(100),
          ready: z.number().int().min(0).max(1_000),
          starting: z.number().int().min(0).max(1_000),
          memory_mb: z
            .number()
            .int()
            .min(0)
            .max(2 ** 31),
        }),
      )
      .max(1_000)
      .openapi({ description: "Per template, the warm VMs the agent keeps (assigned to no sandbox)" }),
  })
  .partial()
  .openapi("HeartbeatReport");

/** The heartbeat's optional body, validated by hand: an empty one (older agents) is no report. */
async function heartbeatBody(req: {
  text(): Promise<string>;
}): Promise<z.infer<typeof HeartbeatBody> | undefined> {
  const text = await req.text();
  if (!text.trim()) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw errors.invalidArgument("heartbeat body is not JSON");
  }
  const parsed = HeartbeatBody.safeParse(json);
  if (!parsed.success)
    throw errors.invalidArgument(`heartbeat report: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

/** The heartbeat's report in the reconciler's terms; ids that are not sandbox ids are ignored. */
function agentReportOf(body: z.infer<typeof HeartbeatBody> | undefined): AgentReport | undefined {
  if (!body?.sandboxes && !body?.auto_paused_sandbox_ids) return undefined;
  const alive = (body.sandboxes ?? []).flatMap((s) => {
    const id = tryParseId("sandbox", s.sandbox_id);
    return id ? [{ id, starting: s.state === "starting" }] : [];
  });
  const autoPaused = (body.auto_paused_sandbox_ids ?? []).flatMap((w) => tryParseId("sandbox", w) ?? []);
  return { alive, autoPaused };
}

/** Host management (users), registration, refresh and heartbeat (host agents). */
export function registerHostRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  const hosts = deps.services.hosts;
  const mw = [deps.mw.requireJWT];
  const hostId = (wire: string) => parseIdOrNotFound("host", wire, "host");

  app.openAPIRegistry.registerComponent("securitySchemes", "HostToken", {
    type: "apiKey",
    in: "header",
    name: "X-Host-Token",
  });

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/hosts",
      tags: ["hosts"],
      summary:
        "Add a host; answers a one-time registration token (regular: platform admins; byoc: team owners)",
      security: jwtSecurity,
      middleware: mw,
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(WithTokenSchema, "The pending host"),
        ...errorResponses(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { host, registrationToken } = await hosts.create(c.get("auth"), {
        type: body.type,
        ...(body.team_id ? { teamId: parseIdOrInvalid("team", body.team_id, "team_id") } : {}),
        ...(body.provider !== undefined ? { provider: body.provider } : {}),
        ...(body.availability_zone !== undefined ? { availabilityZone: body.availability_zone } : {}),
      });
      return c.json({ host: hostView(host), registration_token: registrationToken }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/hosts",
      tags: ["hosts"],
      summary: "List hosts (platform admins: all; others: the current team's BYOC hosts)",
      security: jwtSecurity,
      middleware: mw,
      responses: {
        200: jsonResponse(z.object({ hosts: z.array(HostSchema) }), "Hosts"),
        ...errorResponses(401, 403),
      },
    }),
    async (c) => c.json({ hosts: (await hosts.list(c.get("auth"))).map(hostView) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/hosts/register",
      tags: ["hosts"],
      summary: "Register a host agent with its one-time token (called by the agent)",
      request: { body: jsonBody(RegisterBody) },
      responses: {
        201: jsonResponse(CredentialsSchema, "Host credentials"),
        ...errorResponses(400, 401, 409),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const creds = await hosts.register(body.token, body.address, {
        arch: body.arch,
        cpuCount: body.cpu_count,
        memoryMb: body.memory_mb,
        diskGb: body.disk_gb,
      });
      return c.json(credentialsView(creds), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/hosts/refresh",
      tags: ["hosts"],
      summary: "Exchange a refresh token for a new host JWT and refresh token (the old one is revoked)",
      request: { body: jsonBody(z.strictObject({ refresh_token: z.string().min(1).max(200) })) },
      responses: { 200: jsonResponse(CredentialsSchema, "New credentials"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const creds = await hosts.refresh(c.req.valid("json").refresh_token);
      return c.json(credentialsView(creds), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/hosts/{id}/heartbeat",
      tags: ["hosts"],
      summary: "Heartbeat of a host agent (every 30 s, X-Host-Token), with its sandbox report",
      security: hostSecurity,
      description:
        "The body, optional, is the agent's sandbox report: `{sandboxes: [{sandbox_id, state}], auto_paused_sandbox_ids: [...]}`. Sandboxes it paused on its own become `paused`, `missing` ones it runs `running`, before the host is marked online. Agents from before the report send an empty body (with a JSON content type), which is accepted.",
      request: { params: IdParam },
      responses: {
        204: {
          description: `Recorded; under mTLS a \`${RENEW_CERTIFICATE_HEADER}: 1\` header asks the agent to refresh now for a certificate`,
        },
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const token = c.req.header("x-host-token");
      if (!token) throw errors.unauthenticated("X-Host-Token required");
      const tokenHost = await deps.hostTokens.verify(token);
      // Through Hono's request (it caches the body another middleware may have read), not the raw one.
      const body = await heartbeatBody(c.req);
      const host = await hosts.heartbeat(
        tokenHost,
        hostId(c.req.valid("param").id),
        agentReportOf(body),
        body?.base_image_bytes,
        body?.warm_pool,
      );
      if (hosts.needsCertificate(host)) c.header(RENEW_CERTIFICATE_HEADER, "1");
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/hosts/{id}",
      tags: ["hosts"],
      summary: "One host",
      security: jwtSecurity,
      middleware: mw,
      request: { params: IdParam },
      responses: { 200: jsonResponse(HostSchema, "The host"), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(hostView(await hosts.get(c.get("auth"), hostId(c.req.valid("param").id))), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/hosts/{id}/token",
      tags: ["hosts"],
      summary: "Issue a new registration token for a host that has not registered yet",
      security: jwtSecurity,
      middleware: mw,
      request: { params: IdParam },
      responses: { 201: jsonResponse(WithTokenSchema, "New token"), ...errorResponses(401, 403, 404, 409) },
    }),
    async (c) => {
      const { host, registrationToken } = await hosts.regenerateToken(
        c.get("auth"),
        hostId(c.req.valid("param").id),
      );
      return c.json({ host: hostView(host), registration_token: registrationToken }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/hosts/{id}/tags",
      tags: ["hosts"],
      summary: "Add a tag to a host",
      security: jwtSecurity,
      middleware: mw,
      request: { params: IdParam, body: jsonBody(z.strictObject({ tag: TagSchema })) },
      responses: { 200: jsonResponse(HostSchema, "The host"), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const host = await hosts.addTag(
        c.get("auth"),
        hostId(c.req.valid("param").id),
        c.req.valid("json").tag,
      );
      return c.json(hostView(host), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/hosts/{id}/tags/{tag}",
      tags: ["hosts"],
      summary: "Remove a tag from a host",
      security: jwtSecurity,
      middleware: mw,
      request: { params: IdParam.extend({ tag: z.string() }) },
      responses: { 200: jsonResponse(HostSchema, "The host"), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id, tag } = c.req.valid("param");
      return c.json(hostView(await hosts.removeTag(c.get("auth"), hostId(id), tag)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/hosts/{id}",
      tags: ["hosts"],
      summary: "Delete a host; 409 listing its sandboxes unless ?force=true (which destroys them)",
      security: jwtSecurity,
      middleware: mw,
      request: { params: IdParam, query: z.object({ force: z.enum(["true", "false"]).optional() }) },
      responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404, 409) },
    }),
    async (c) => {
      const force = c.req.valid("query").force === "true";
      await hosts.delete(c.get("auth"), hostId(c.req.valid("param").id), force);
      return c.body(null, 204);
    },
  );
}
