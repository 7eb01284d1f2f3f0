import type { ConnectionOptions } from "@wrenn/sdk";
import { loadCredentials } from "./config.ts";

/**
 * SDK connection options from the saved login and the environment (`WRENN_API_KEY` and
 * `WRENN_API_URL` override `wrenn login`). Throws exit code 4 when there is no key at all.
 */
export async function connection(): Promise<ConnectionOptions & { apiKey: string; apiUrl: string }> {
  const creds = await loadCredentials();
  return { apiKey: creds.apiKey, apiUrl: creds.apiUrl };
}
