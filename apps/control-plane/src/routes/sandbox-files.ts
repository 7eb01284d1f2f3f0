import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { parseIdOrNotFound } from "../ids.ts";
import type { SandboxFilesService } from "../services/sandbox-files.ts";
import type { RouteDeps } from "./deps.ts";

/** Largest file `files/write` accepts (the global JSON body limit does not apply to it). */
export const FILE_WRITE_MAX_BYTES = 100 * 1024 * 1024;

/** Largest file `files/stream/write` accepts (streamed, never buffered by the control plane). */
export const FILE_STREAM_MAX_BYTES = 4 * 1024 ** 3;

/** Paths exempt from the global body limit (they set their own). */
export const ownBodyLimitPath = /^\/v1\/sandboxes\/[^/]+\/files\/(write|stream\/write)$/;

const FileEntrySchema = z
  .object({
    name: z.string(),
    path: z.string(),
    type: z.enum(["file", "dir", "symlink", "unknown"]),
    size: z.number().int(),
    mode: z.number().int(),
    permissions: z.string().openapi({ example: "-rw-r--r--" }),
    owner: z.string(),
    group: z.string(),
    modified_at: z.string().nullable(),
    symlink_target: z.string().optional(),
  })
  .openapi("FileEntry");

const PathBody = z.strictObject({
  path: z.string().min(1).max(4096).openapi({ example: "/home/user/a.txt" }),
});
const IdParam = z.object({ id: z.string().openapi({ example: "sb-…" }) });

const WriteForm = z.object({
  path: z.string().min(1).max(4096),
  file: z
    .custom<File>((v) => v instanceof File, "must be a file part")
    .openapi({ type: "string", format: "binary" }),
});

/** `/v1/sandboxes/{id}/files/*`: write (multipart), read (raw bytes), list, mkdir, remove. */
export function registerSandboxFileRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { files: SandboxFilesService },
): void {
  const files = deps.files;
  const mw = [deps.mw.requireAPIKeyOrJWT];
  const sandboxId = (wire: string) => parseIdOrNotFound("sandbox", wire, "sandbox");
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/files/write",
      tags: ["files"],
      summary: "Create or replace a file (multipart: path, file)",
      security: keyOrJwtSecurity,
      middleware: [
        bodyLimit({
          maxSize: FILE_WRITE_MAX_BYTES,
          onError: () => {
            throw errors.invalidArgument(`file exceeds ${FILE_WRITE_MAX_BYTES} bytes`);
          },
        }),
        ...mw,
      ],
      request: {
        params: IdParam,
        body: { required: true, content: { "multipart/form-data": { schema: WriteForm } } },
      },
      responses: {
        200: jsonResponse(FileEntrySchema, "The written file"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const form = c.req.valid("form");
      const bytes = new Uint8Array(await form.file.arrayBuffer());
      return c.json(
        await files.write(c.get("auth"), sandboxId(c.req.valid("param").id), form.path, bytes),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/files/stream/write",
      tags: ["files"],
      summary: "Stream a large file in: the raw request body becomes the file at ?path=",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: {
        params: IdParam,
        query: z.object({ path: z.string().min(1).max(4096) }),
        body: {
          required: true,
          content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
        },
      },
      responses: {
        200: jsonResponse(FileEntrySchema, "The written file"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const body = c.req.raw.body;
      if (!body) throw errors.invalidArgument("request body is the file's content");
      // A declared length over the limit is refused before anything reaches the guest.
      if (Number(c.req.header("content-length") ?? 0) > FILE_STREAM_MAX_BYTES) {
        throw errors.invalidArgument(`file exceeds ${FILE_STREAM_MAX_BYTES} bytes`);
      }
      const entry = await files.writeStream(
        c.get("auth"),
        sandboxId(c.req.valid("param").id),
        c.req.valid("query").path,
        body,
        FILE_STREAM_MAX_BYTES,
      );
      return c.json(entry, 200);
    },
  );

  for (const path of ["/v1/sandboxes/{id}/files/read", "/v1/sandboxes/{id}/files/stream/read"]) {
    app.openapi(
      createRoute({
        method: "post",
        path,
        tags: ["files"],
        summary: "Read a file: answers its raw bytes, streamed",
        security: keyOrJwtSecurity,
        middleware: mw,
        request: { params: IdParam, body: jsonBody(PathBody) },
        responses: {
          200: {
            description: "The file's bytes",
            content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
          },
          ...errorResponses(400, 401, 403, 404, 409, 503),
        },
      }),
      async (c) => {
        const { entry, body } = await files.read(
          c.get("auth"),
          sandboxId(c.req.valid("param").id),
          c.req.valid("json").path,
        );
        return new Response(body, {
          status: 200,
          headers: { "content-type": "application/octet-stream", "content-length": String(entry.size) },
        }) as never;
      },
    );
  }

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/files/list",
      tags: ["files"],
      summary: "List a directory",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: {
        params: IdParam,
        body: jsonBody(PathBody.extend({ depth: z.number().int().min(1).max(10).optional() })),
      },
      responses: {
        200: jsonResponse(z.object({ entries: z.array(FileEntrySchema) }), "Entries"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const entries = await files.list(
        c.get("auth"),
        sandboxId(c.req.valid("param").id),
        body.path,
        body.depth ?? 1,
      );
      return c.json({ entries }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/files/mkdir",
      tags: ["files"],
      summary: "Create a directory (and its parents)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: IdParam, body: jsonBody(PathBody) },
      responses: {
        200: jsonResponse(FileEntrySchema, "The directory"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) =>
      c.json(
        await files.mkdir(c.get("auth"), sandboxId(c.req.valid("param").id), c.req.valid("json").path),
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/files/remove",
      tags: ["files"],
      summary: "Remove a file or directory tree",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: IdParam, body: jsonBody(PathBody) },
      responses: { 204: { description: "Removed" }, ...errorResponses(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      await files.remove(c.get("auth"), sandboxId(c.req.valid("param").id), c.req.valid("json").path);
      return c.body(null, 204);
    },
  );
}
