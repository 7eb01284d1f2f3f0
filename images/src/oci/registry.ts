import { createHash } from "node:crypto";

/** An image reference split into where it lives and which version. */
export interface ImageRef {
  /** Registry host (and port), e.g. `registry-1.docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/debian`. */
  repository: string;
  /** Tag or `sha256:` digest. */
  reference: string;
}

const DOCKER_HUB = "registry-1.docker.io";

/**
 * Parses `name[:tag][@digest]` as Docker does: no registry host means Docker
 * Hub, and a one-part Docker Hub name lives under `library/`; no tag means `latest`.
 */
export function parseImageRef(raw: string): ImageRef {
  const ref = raw.trim();
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._:/@+-]*$/.test(ref) || ref.length > 512) {
    throw new Error(`image reference ${JSON.stringify(raw)} is not valid`);
  }
  let rest = ref;
  let reference = "latest";
  const at = rest.indexOf("@");
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon > rest.lastIndexOf("/")) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  const hasHost = first.includes(".") || first.includes(":") || first === "localhost";
  const registry = hasHost ? first : DOCKER_HUB;
  let repository = hasHost ? rest.slice(slash + 1) : rest;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  return { registry, repository, reference };
}

/**
 * True for a registry on this machine's loopback (`localhost`, `127.x.y.z`, `[::1]`, any port):
 * spoken to over plain HTTP, as Docker does, so a local registry needs no TLS set-up.
 */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(0, registry.indexOf("]") + 1)
    : registry.split(":")[0];
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host ?? "");
}

/** A content descriptor of a manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** The image config fields a rootfs needs (the rest is ignored). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
  };
}

/** A pulled image: its config and its layer blobs, lowest first. */
export interface PulledImage {
  digest: string;
  config: ImageConfig;
  layers: { descriptor: Descriptor; blob: Buffer }[];
}

const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];
const INDEX_TYPES = new Set([MANIFEST_TYPES[0], MANIFEST_TYPES[2]]);
const LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
]);

/** Options of {@link RegistryClient}. */
export interface RegistryClientOptions {
  /** Registries spoken to over plain HTTP (a local registry); every other one is HTTPS. */
  insecureRegistries?: string[];
  /** Basic credentials (also used to get a bearer token when the registry asks for one). */
  credentials?: { username: string; password: string } | undefined;
  /** Largest blob accepted, in bytes (default 4 GiB). */
  maxBlobBytes?: number;
  /** Platform picked from a multi-platform index (default linux/amd64). */
  platform?: { os: string; architecture: string };
  fetch?: typeof fetch;
}

/**
 * A client of the OCI distribution API (Docker registry v2) for pulls:
 * manifests (an index resolves to the platform's image), the config and the
 * layer blobs, each checked against its digest. Authenticates with the
 * registry's bearer-token challenge (anonymous or with credentials) or basic auth.
 */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.fetch = opts.fetch ?? fetch;
  }

  private base(ref: ImageRef): string {
    const plain = this.opts.insecureRegistries?.includes(ref.registry) || isLoopbackRegistry(ref.registry);
    const scheme = plain ? "http" : "https";
    return `${scheme}://${ref.registry}/v2/${ref.repository}`;
  }

  private basic(): string | undefined {
    const c = this.opts.credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` : undefined;
  }

  /** GET with the registry's auth dance: on a 401 challenge, fetch a token and retry once. */
  private async get(ref: ImageRef, url: string, accept?: string): Promise<Response> {
    const key = `${ref.registry}/${ref.repository}`;
    const send = (auth: string | undefined) =>
      this.fetch(url, {
        headers: { ...(accept ? { accept } : {}), ...(auth ? { authorization: auth } : {}) },
        redirect: "follow",
      });
    const cached = this.tokens.get(key);
    let res = await send(cached ? `Bearer ${cached}` : this.basic());
    if (res.status === 401) {
      const challenge = res.headers.get("www-authenticate") ?? "";
      await res.body?.cancel();
      if (/^bearer /i.test(challenge)) {
        const token = await this.token(challenge, ref);
        this.tokens.set(key, token);
        res = await send(`Bearer ${token}`);
      } else if (this.basic() && !cached) {
        res = await send(this.basic());
      }
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`registry ${ref.registry} answered ${res.status} for ${new URL(url).pathname}`);
    }
    return res;
  }

  private async token(challenge: string, ref: ImageRef): Promise<string> {
    const params = Object.fromEntries(
      [...challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (!params.realm) throw new Error(`registry ${ref.registry} sent a bearer challenge without a realm`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", params.scope ?? `repository:${ref.repository}:pull`);
    const basic = this.basic();
    const res = await this.fetch(url, { headers: basic ? { authorization: basic } : {} });
    if (!res.ok) throw new Error(`token service of ${ref.registry} answered ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token service of ${ref.registry} sent no token`);
    return token;
  }

  private async verified(res: Response, digest: string, max: number): Promise<Buffer> {
    const length = Number(res.headers.get("content-length") ?? 0);
    if (length > max) throw new Error(`${digest} is ${length} bytes, over the ${max}-byte limit`);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > max) throw new Error(`${digest} is over the ${max}-byte limit`);
    const [algo, hex] = digest.split(":");
    if (algo !== "sha256" || createHash("sha256").update(body).digest("hex") !== hex) {
      throw new Error(`content does not match its digest ${digest}`);
    }
    return body;
  }

  /** The image manifest of `ref` for the client's platform, and its digest. */
  async manifest(
    ref: ImageRef,
  ): Promise<{ digest: string; manifest: { config: Descriptor; layers: Descriptor[] } }> {
    let reference = ref.reference;
    for (let hop = 0; hop < 2; hop++) {
      const res = await this.get(ref, `${this.base(ref)}/manifests/${reference}`, MANIFEST_TYPES.join(", "));
      const body = Buffer.from(await res.arrayBuffer());
      if (body.length > 4 * 1024 * 1024) throw new Error("manifest over 4 MiB");
      const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
      if (reference.startsWith("sha256:") && reference !== digest) {
        throw new Error(`manifest does not match its digest ${reference}`);
      }
      const doc = JSON.parse(body.toString("utf8")) as {
        mediaType?: string;
        manifests?: Descriptor[];
        config?: Descriptor;
        layers?: Descriptor[];
      };
      const type = doc.mediaType ?? res.headers.get("content-type") ?? "";
      if (INDEX_TYPES.has(type) || doc.manifests) {
        const want = this.opts.platform ?? { os: "linux", architecture: "amd64" };
        const pick = doc.manifests?.find(
          (m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture,
        );
        if (!pick)
          throw new Error(
            `image ${ref.repository}:${ref.reference} has no ${want.os}/${want.architecture} variant`,
          );
        reference = pick.digest;
        continue;
      }
      if (!doc.config || !doc.layers) throw new Error(`unsupported manifest type ${type || "(none)"}`);
      return { digest, manifest: { config: doc.config, layers: doc.layers } };
    }
    throw new Error("nested image indexes are not supported");
  }

  /** Blob `digest` of the repository, checked against its digest. */
  async blob(ref: ImageRef, digest: string): Promise<Buffer> {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`unsupported digest ${digest}`);
    const res = await this.get(ref, `${this.base(ref)}/blobs/${digest}`);
    return this.verified(res, digest, this.opts.maxBlobBytes ?? 4 * 1024 ** 3);
  }

  /** Pulls `image`: manifest (platform-resolved), config and every layer. */
  async pull(image: string | ImageRef): Promise<PulledImage> {
    const ref = typeof image === "string" ? parseImageRef(image) : image;
    const { digest, manifest } = await this.manifest(ref);
    const config = JSON.parse((await this.blob(ref, manifest.config.digest)).toString("utf8")) as ImageConfig;
    const layers = [];
    for (const descriptor of manifest.layers) {
      if (!LAYER_TYPES.has(descriptor.mediaType)) {
        throw new Error(`layer media type ${descriptor.mediaType} is not supported`);
      }
      layers.push({ descriptor, blob: await this.blob(ref, descriptor.digest) });
    }
    return { digest, config, layers };
  }
}
