import { AuthenticationError, InvalidArgumentError } from "./errors.ts";

/** The default control plane URL when neither `apiUrl` nor `WRENN_API_URL` is given. */
export const DEFAULT_API_URL = "http://localhost:8080";
/** Default timeout of one REST request (creating a sandbox can take a while on slow hosts). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

/** Connection options every SDK entry point accepts. */
export interface ConnectionOptions {
  /** Team API key (`wrn_…`). Default: `WRENN_API_KEY`. */
  apiKey?: string | undefined;
  /** Control plane base URL. Default: `WRENN_API_URL`, else `http://localhost:8080`. */
  apiUrl?: string | undefined;
  /**
   * Domain of the port proxy for {@link Sandbox.getHost}: hosts are
   * `{port}-{sandboxId}.{domain}`. Default: `WRENN_DOMAIN`, else the control plane's host.
   */
  domain?: string | undefined;
  /** Timeout of each REST request in ms (0 = none). Default: 120000. */
  requestTimeoutMs?: number | undefined;
}

/** {@link ConnectionOptions} resolved against the environment. */
export interface ConnectionConfig {
  apiKey: string;
  /** Without a trailing slash. */
  apiUrl: string;
  domain: string;
  requestTimeoutMs: number;
}

/**
 * Resolves options against `WRENN_API_KEY`, `WRENN_API_URL` and `WRENN_DOMAIN`.
 * Throws before any request is made when no API key is available or the URL is not http(s).
 *
 * @example
 * ```ts
 * const config = resolveConfig({ apiKey: "wrn_…", apiUrl: "https://wrenn.example.com" });
 * ```
 */
export function resolveConfig(
  options: ConnectionOptions = {},
  env: Record<string, string | undefined> = typeof process === "undefined" ? {} : process.env,
): ConnectionConfig {
  const apiKey = options.apiKey ?? env.WRENN_API_KEY;
  if (!apiKey) {
    throw new AuthenticationError(
      "no API key: pass { apiKey } or set WRENN_API_KEY (create one in the dashboard or with POST /v1/api-keys)",
    );
  }
  const rawUrl = options.apiUrl ?? env.WRENN_API_URL ?? DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new InvalidArgumentError(`apiUrl: not a URL: ${rawUrl}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`apiUrl: must be http(s), got ${url.protocol}`);
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs < 0) {
    throw new InvalidArgumentError(`requestTimeoutMs: must be a number ≥ 0, got ${requestTimeoutMs}`);
  }
  return {
    apiKey,
    apiUrl: url.toString().replace(/\/+$/, ""),
    domain: options.domain ?? env.WRENN_DOMAIN ?? url.host,
    requestTimeoutMs,
  };
}
