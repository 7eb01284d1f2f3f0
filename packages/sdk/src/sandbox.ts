import { ApiClient } from "./client/http.ts";
import { Commands } from "./commands.ts";
import { type ConnectionConfig, type ConnectionOptions, resolveConfig } from "./config.ts";
import { EnvdConnection } from "./envd/transport.ts";
import { InvalidArgumentError } from "./errors.ts";
import { Files } from "./files.ts";
import { type SandboxListOptions, SandboxPaginator } from "./paginator.ts";
import { Pty } from "./pty.ts";
import {
  type MetricsRange,
  type MetricsWire,
  metricsOf,
  type SandboxInfo,
  type SandboxMetrics,
  type SandboxWire,
  type SnapshotInfo,
  sandboxInfoOf,
  snapshotInfoOf,
  type TemplateWire,
} from "./sandbox-info.ts";

/**
 * Egress rules, as in E2B: an entry of `allowOut` always wins over one of `denyOut`, a denied
 * destination is blocked, anything else passes. Entries are CIDRs or IPs (`10.0.0.0/8`,
 * `1.1.1.1`), in `allowOut` also domain names (`pypi.org`, `*.example.com`), each optionally
 * with `:port` or `:lo-hi`. Allowing a domain needs everything else denied (`0.0.0.0/0` in
 * `denyOut`, or `allowInternetAccess: false`).
 */
export interface SandboxNetworkOptions {
  allowOut?: string[] | undefined;
  denyOut?: string[] | undefined;
}

/** Options of {@link Sandbox.create}. */
export interface SandboxCreateOptions extends ConnectionOptions {
  /** False: no destination is reachable but those in `network.allowOut` (default true). */
  allowInternetAccess?: boolean | undefined;
  /** Egress rules (see {@link SandboxNetworkOptions}). */
  network?: SandboxNetworkOptions | undefined;
  /** Template name (default `minimal`). */
  template?: string | undefined;
  /** Inactivity timeout in ms after which the sandbox is paused (0 = never; default 300000). Rounded up to seconds. */
  timeoutMs?: number | undefined;
  /** Labels to find it by (`Sandbox.list({ metadata })`). */
  metadata?: Record<string, string> | undefined;
  /** Environment variables of every process in the sandbox. */
  envs?: Record<string, string> | undefined;
  /** vCPUs (1–8; default: the template's). */
  vcpus?: number | undefined;
  /** Memory in MB (128–16384; default: the template's). */
  memoryMb?: number | undefined;
  /** Disk size in MB (512–102400). */
  diskSizeMb?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of {@link Sandbox.connect}. */
export interface SandboxConnectOptions extends ConnectionOptions {
  /** An envd access token to use when the control plane's answer carries none. */
  envdAccessToken?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of the per-request calls on a sandbox. */
export interface SandboxForkOptions extends SandboxRequestOptions {
  /** How many sandboxes to make (1–8, default 1). */
  count?: number | undefined;
  /** Inactivity timeout of the forks in ms (0 = never; default: the source's). Rounded up to seconds. */
  timeoutMs?: number | undefined;
  /** Metadata of the forks (default: the source's). */
  metadata?: Record<string, string> | undefined;
}

export interface SandboxRequestOptions {
  signal?: AbortSignal | undefined;
  /** Overrides the request timeout (ms). */
  requestTimeoutMs?: number | undefined;
}

/** Default limit of a fork request (capture plus up to 8 restores). */
const FORK_TIMEOUT_MS = 300_000;

function msToSeconds(ms: number, field: string): number {
  if (!Number.isFinite(ms) || ms < 0)
    throw new InvalidArgumentError(`${field}: must be a number ≥ 0, got ${ms}`);
  return Math.ceil(ms / 1000);
}

/** The egress fields of a create or update body (wire names); omitted ones stay out. */
function egressBody(n: SandboxNetworkOptions & { allowInternetAccess?: boolean | undefined }) {
  return { allow_internet: n.allowInternetAccess, allow_out: n.allowOut, deny_out: n.denyOut };
}

/** `PUT /v1/sandboxes/{id}/network`. */
async function putNetwork(
  api: ApiClient,
  sandboxId: string,
  network: SandboxNetworkOptions & { allowInternetAccess?: boolean | undefined },
  options: SandboxRequestOptions,
): Promise<SandboxInfo> {
  return sandboxInfoOf(
    await api.request<SandboxWire>("PUT", sandboxPath(sandboxId, "/network"), {
      ...requestOpts(options),
      body: egressBody(network),
    }),
  );
}

function sandboxPath(id: string, rest = ""): string {
  return `/v1/sandboxes/${encodeURIComponent(id)}${rest}`;
}

/**
 * A Wrenn sandbox: an isolated microVM with a filesystem, processes and
 * terminals. Create one with {@link Sandbox.create}, reattach with
 * {@link Sandbox.connect}.
 *
 * @example
 * ```ts
 * import { Sandbox } from "@wrenn/sdk";
 *
 * const sandbox = await Sandbox.create({ template: "minimal", timeoutMs: 600_000 });
 * const { stdout } = await sandbox.commands.run("uname -a");
 * await sandbox.kill();
 * ```
 */
export class Sandbox {
  /** Commands (processes) in the sandbox. */
  readonly commands: Commands;
  /** The sandbox's filesystem. */
  readonly files: Files;
  /** Interactive terminals. */
  readonly pty: Pty;
  private readonly api: ApiClient;
  private readonly envd: EnvdConnection;

  private constructor(
    /** The sandbox's id (`sb-…`). */
    readonly sandboxId: string,
    config: ConnectionConfig,
    /** The token envd checks (`X-Access-Token`); keep it to reconnect later. */
    readonly envdAccessToken: string | undefined,
  ) {
    this.api = new ApiClient(config);
    this.envd = new EnvdConnection({
      apiUrl: config.apiUrl,
      sandboxId,
      accessToken: envdAccessToken,
      domain: config.domain,
    });
    this.commands = new Commands(this.envd);
    this.files = new Files(this.envd);
    this.pty = new Pty(this.envd, this.commands);
  }

  /** The resolved connection settings (API URL, domain, timeouts; includes the API key). */
  get connectionConfig(): ConnectionConfig {
    return this.api.config;
  }

  /**
   * Creates a sandbox from a template and waits until it runs.
   *
   * @example
   * ```ts
   * const sandbox = await Sandbox.create({
   *   template: "minimal",
   *   timeoutMs: 10 * 60_000,
   *   metadata: { user: "ada" },
   *   envs: { NODE_ENV: "production" },
   *   vcpus: 2,
   *   memoryMb: 1024,
   * });
   * ```
   */
  static async create(options: SandboxCreateOptions = {}): Promise<Sandbox> {
    const config = resolveConfig(options);
    const api = new ApiClient(config);
    const created = await api.request<SandboxWire>("POST", "/v1/sandboxes", {
      body: {
        template: options.template,
        timeout_sec:
          options.timeoutMs === undefined ? undefined : msToSeconds(options.timeoutMs, "timeoutMs"),
        metadata: options.metadata,
        envs: options.envs,
        vcpus: options.vcpus,
        memory_mb: options.memoryMb,
        disk_size_mb: options.diskSizeMb,
        ...egressBody({ allowInternetAccess: options.allowInternetAccess, ...options.network }),
      },
      signal: options.signal,
    });
    return new Sandbox(created.id, config, created.envd_access_token);
  }

  /**
   * Connects to an existing sandbox of the team; a paused one is resumed
   * first. Throws {@link NotFoundError} when it does not exist (or was killed).
   *
   * @example
   * ```ts
   * const sandbox = await Sandbox.connect("sb-5d2e…");
   * await sandbox.commands.run("ls");
   * ```
   */
  static async connect(sandboxId: string, options: SandboxConnectOptions = {}): Promise<Sandbox> {
    const config = resolveConfig(options);
    const api = new ApiClient(config);
    // One call: the control plane resumes a paused sandbox and answers its envd access token.
    const info = await api.request<SandboxWire>("POST", sandboxPath(sandboxId, "/connect"), {
      signal: options.signal,
    });
    return new Sandbox(info.id, config, info.envd_access_token || options.envdAccessToken);
  }

  /**
   * Lists the team's sandboxes, newest first, optionally filtered by state
   * and metadata. Iterate with `for await`, or page with `nextItems()`.
   *
   * @example
   * ```ts
   * for await (const info of Sandbox.list({ state: ["running"], metadata: { user: "ada" } })) {
   *   console.log(info.sandboxId, info.state);
   * }
   * const page = await Sandbox.list({ limit: 10 }).nextItems();
   * ```
   */
  static list(options: SandboxListOptions & ConnectionOptions = {}): SandboxPaginator {
    return new SandboxPaginator(new ApiClient(resolveConfig(options)), options);
  }

  /**
   * Forks a running sandbox by id: `count` new sandboxes on its host that continue from its
   * memory, processes and files at this instant, while it keeps running. The forks run at once
   * (each with its own id and envd token). A sandbox that is not running is a conflict error.
   *
   * @example
   * ```ts
   * const [copy] = await Sandbox.fork("sb-5d2e…");
   * ```
   */
  static async fork(
    sandboxId: string,
    options: ConnectionOptions & SandboxForkOptions = {},
  ): Promise<Sandbox[]> {
    const config = resolveConfig(options);
    return Sandbox.forkVia(new ApiClient(config), sandboxId, options);
  }

  private static async forkVia(
    api: ApiClient,
    sandboxId: string,
    options: SandboxForkOptions,
  ): Promise<Sandbox[]> {
    const res = await api.request<{ sandboxes: SandboxWire[] }>("POST", sandboxPath(sandboxId, "/fork"), {
      // A fork captures the source and starts every fork before answering: allow it time.
      timeoutMs: FORK_TIMEOUT_MS,
      ...requestOpts(options),
      body: {
        count: options.count,
        timeout_sec:
          options.timeoutMs === undefined ? undefined : msToSeconds(options.timeoutMs, "timeoutMs"),
        metadata: options.metadata,
      },
    });
    return res.sandboxes.map((s) => new Sandbox(s.id, api.config, s.envd_access_token));
  }

  /**
   * Forks this sandbox (see {@link Sandbox.fork}): the forks continue from its current memory,
   * processes and files; it keeps running.
   *
   * @example
   * ```ts
   * await sandbox.commands.run("echo state > /tmp/x");
   * const [a, b] = await sandbox.fork({ count: 2 });
   * ```
   */
  fork(options: SandboxForkOptions = {}): Promise<Sandbox[]> {
    return Sandbox.forkVia(this.api, this.sandboxId, options);
  }

  /**
   * Information about a sandbox without connecting to it.
   *
   * @example
   * ```ts
   * const { state } = await Sandbox.getInfo("sb-5d2e…");
   * ```
   */
  static async getInfo(
    sandboxId: string,
    options: ConnectionOptions & SandboxRequestOptions = {},
  ): Promise<SandboxInfo> {
    const api = new ApiClient(resolveConfig(options));
    return sandboxInfoOf(await api.request<SandboxWire>("GET", sandboxPath(sandboxId), requestOpts(options)));
  }

  /**
   * Replaces the egress rules of a running sandbox by id, without connecting to it (see the
   * instance method {@link Sandbox.updateNetwork}).
   */
  static async updateNetwork(
    sandboxId: string,
    network: SandboxNetworkOptions & { allowInternetAccess?: boolean | undefined },
    options: ConnectionOptions & SandboxRequestOptions = {},
  ): Promise<SandboxInfo> {
    return putNetwork(new ApiClient(resolveConfig(options)), sandboxId, network, options);
  }

  /**
   * Destroys a sandbox by id without connecting (or resuming) it. Answers
   * false when it did not exist.
   *
   * @example
   * ```ts
   * await Sandbox.kill("sb-5d2e…");
   * ```
   */
  static async kill(
    sandboxId: string,
    options: ConnectionOptions & SandboxRequestOptions = {},
  ): Promise<boolean> {
    const api = new ApiClient(resolveConfig(options));
    try {
      await api.request("DELETE", sandboxPath(sandboxId), requestOpts(options));
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === "not_found") return false;
      throw err;
    }
  }

  /**
   * Pauses a sandbox by id (memory and disk kept, no RAM held); `connect` resumes it.
   *
   * @example
   * ```ts
   * await Sandbox.pause("sb-5d2e…");
   * ```
   */
  static async pause(
    sandboxId: string,
    options: ConnectionOptions & SandboxRequestOptions = {},
  ): Promise<SandboxInfo> {
    const api = new ApiClient(resolveConfig(options));
    return sandboxInfoOf(
      await api.request<SandboxWire>("POST", sandboxPath(sandboxId, "/pause"), requestOpts(options)),
    );
  }

  /**
   * Current information about this sandbox (state, resources, metadata).
   *
   * @example
   * ```ts
   * const info = await sandbox.getInfo();
   * console.log(info.state, info.createdAt);
   * ```
   */
  async getInfo(options: SandboxRequestOptions = {}): Promise<SandboxInfo> {
    return sandboxInfoOf(
      await this.api.request<SandboxWire>("GET", sandboxPath(this.sandboxId), requestOpts(options)),
    );
  }

  /**
   * Changes the inactivity timeout: the sandbox is paused after `timeoutMs`
   * without activity (0 = never). Rounded up to whole seconds.
   *
   * @example
   * ```ts
   * await sandbox.setTimeout(30 * 60_000);
   * ```
   */
  async setTimeout(timeoutMs: number, options: SandboxRequestOptions = {}): Promise<SandboxInfo> {
    const timeout = msToSeconds(timeoutMs, "timeoutMs");
    return sandboxInfoOf(
      await this.api.request<SandboxWire>("POST", sandboxPath(this.sandboxId, "/timeout"), {
        ...requestOpts(options),
        body: { timeout_sec: timeout },
      }),
    );
  }

  /**
   * Replaces the egress rules of the running sandbox; new connections follow them at once.
   * Like E2B's `updateNetwork`, what is left out is reset (internet allowed, no lists), e.g.
   * `updateNetwork({ allowOut: ["pypi.org"], denyOut: ["0.0.0.0/0"] })`.
   */
  async updateNetwork(
    network: SandboxNetworkOptions & { allowInternetAccess?: boolean | undefined },
    options: SandboxRequestOptions = {},
  ): Promise<SandboxInfo> {
    return putNetwork(this.api, this.sandboxId, network, options);
  }

  /**
   * Pauses the sandbox: memory and disk are written to its host and no RAM is
   * held. `Sandbox.connect(id)` resumes it.
   *
   * @example
   * ```ts
   * await sandbox.pause();
   * const again = await Sandbox.connect(sandbox.sandboxId);
   * ```
   */
  async pause(options: SandboxRequestOptions = {}): Promise<SandboxInfo> {
    return sandboxInfoOf(
      await this.api.request<SandboxWire>(
        "POST",
        sandboxPath(this.sandboxId, "/pause"),
        requestOpts(options),
      ),
    );
  }

  /**
   * Destroys the sandbox (its VM and files). Answers false when it was already gone.
   *
   * @example
   * ```ts
   * await sandbox.kill();
   * ```
   */
  async kill(options: SandboxRequestOptions = {}): Promise<boolean> {
    try {
      await this.api.request("DELETE", sandboxPath(this.sandboxId), requestOpts(options));
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === "not_found") return false;
      throw err;
    }
  }

  /**
   * CPU, memory and disk samples over a range (live while running, stored while paused).
   *
   * @example
   * ```ts
   * const { points } = await sandbox.getMetrics({ range: "10m" });
   * console.log(points.at(-1)?.cpuPercent);
   * ```
   */
  async getMetrics(options: SandboxRequestOptions & { range?: MetricsRange } = {}): Promise<SandboxMetrics> {
    const wire = await this.api.request<MetricsWire>("GET", sandboxPath(this.sandboxId, "/metrics"), {
      ...requestOpts(options),
      query: { range: options.range },
    });
    return metricsOf(wire);
  }

  /**
   * Captures the sandbox (memory and disk) as a template that new sandboxes
   * start from, right where it was: `Sandbox.create({ template: snap.name })`.
   * The sandbox keeps running. An existing name of the team is overwritten;
   * without a name the control plane generates one.
   *
   * @example
   * ```ts
   * await sandbox.commands.run("pip install numpy");
   * const snap = await sandbox.createSnapshot({ name: "numpy-ready" });
   * const fast = await Sandbox.create({ template: snap.name });
   * ```
   */
  async createSnapshot(options: SandboxRequestOptions & { name?: string } = {}): Promise<SnapshotInfo> {
    const wire = await this.api.request<TemplateWire>("POST", "/v1/snapshots", {
      ...requestOpts(options),
      body: { sandbox_id: this.sandboxId, name: options.name },
    });
    return snapshotInfoOf(wire);
  }

  /**
   * The host name that reaches `port` inside the sandbox through the port
   * proxy: `{port}-{sandboxId}.{domain}`.
   *
   * @example
   * ```ts
   * await sandbox.commands.run("python3 -m http.server 8000", { background: true });
   * const url = `http://${sandbox.getHost(8000)}/`;
   * ```
   */
  getHost(port: number): string {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidArgumentError(`port: must be an integer 1–65535, got ${port}`);
    }
    return `${port}-${this.sandboxId}.${this.api.config.domain}`;
  }
}

function requestOpts(options: SandboxRequestOptions): { signal?: AbortSignal; timeoutMs?: number } {
  return {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
  };
}
