import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { checkEgressPolicy, type EgressPolicy, MAX_EGRESS_ENTRIES } from "@wrenn/common";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { parseIdOrNotFound } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

const entries = (what: string) =>
  z
    .array(z.string().max(300))
    .max(MAX_EGRESS_ENTRIES)
    .optional()
    .openapi({ description: what, example: ["10.0.0.0/8", "pypi.org", "*.example.com:443"] });

/**
 * The egress fields of the create and update bodies (E2B's `allow_internet_access` and
 * `network.allowOut`/`denyOut`, in /v1's snake case).
 */
export const EgressFields = {
  allow_internet: z
    .boolean()
    .optional()
    .openapi({ description: "false = every destination denied but those in allow_out (default true)" }),
  allow_out: entries(
    "Allowed destinations, winning over deny_out: CIDRs, IPs or domain names (`*.example.com` for " +
      "subdomains), each optionally `:port` or `:lo-hi`. Domains need everything else denied.",
  ),
  deny_out: entries("Denied destinations: CIDRs or IPs (no domains), optionally with ports"),
};

/** The checked policy of a body's egress fields (omitted ones: the open defaults). */
export function egressOf(body: {
  allow_internet?: boolean | undefined;
  allow_out?: string[] | undefined;
  deny_out?: string[] | undefined;
}): EgressPolicy {
  return checkEgressPolicy({
    allowInternet: body.allow_internet ?? true,
    allowOut: body.allow_out ?? [],
    denyOut: body.deny_out ?? [],
  });
}

/** The egress fields of a sandbox on the wire. */
export const EgressView = {
  allow_internet: z.boolean(),
  allow_out: z.array(z.string()),
  deny_out: z.array(z.string()),
};

/**
 * `PUT /v1/sandboxes/{id}/network`: replaces the egress policy of a running sandbox at once
 * (fields left out are reset to their defaults, as E2B's update does). `view` renders the answer.
 */
export function registerSandboxNetworkRoute<V extends z.ZodType>(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps,
  view: {
    schema: V;
    render: (row: Awaited<ReturnType<RouteDeps["services"]["sandboxes"]["get"]>>) => z.infer<V>;
  },
): void {
  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/sandboxes/{id}/network",
      tags: ["sandboxes"],
      summary: "Replace the egress rules of a running sandbox",
      description:
        "Takes effect for new connections at once (established ones continue). An allowed entry " +
        "always wins over a denied one; anything neither allows nor denies passes. Domain names are " +
        "enforced through the sandbox's DNS: addresses answered for an allowed name are let through.",
      security: keyOrJwtSecurity,
      middleware: [deps.mw.requireAPIKeyOrJWT],
      request: {
        params: z.object({ id: z.string().openapi({ example: "sb-…" }) }),
        body: jsonBody(z.strictObject(EgressFields).openapi("UpdateSandboxNetworkRequest")),
      },
      responses: {
        200: jsonResponse(view.schema, "The sandbox"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const egress = egressOf(c.req.valid("json"));
      const id = parseIdOrNotFound("sandbox", c.req.valid("param").id, "sandbox");
      const row = await deps.services.sandboxes.updateEgress(c.get("auth"), id, egress);
      return c.json(view.render(row), 200);
    },
  );
}
