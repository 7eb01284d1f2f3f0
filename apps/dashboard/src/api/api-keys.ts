import { api } from "./client.ts";

/** An API key as listed (the secret is never listed). */
export interface ApiKey {
  id: string;
  name: string;
  /** The first characters of the key, enough to recognise it. */
  prefix: string;
  created_by: { id: string; email: string; name: string } | null;
  created_at: string;
  last_used_at: string | null;
}

/** A key just created: the only response that carries the secret. */
export interface CreatedApiKey extends ApiKey {
  key: string;
  /** The same key in E2B's format, for the official `e2b` SDK. */
  e2b_key: string;
}

/** The current team's API keys. */
export async function listApiKeys(): Promise<ApiKey[]> {
  return (await api<{ api_keys: ApiKey[] }>("GET", "/v1/api-keys")).api_keys;
}

/** A new key for the current team; its secret is in this answer only. */
export function createApiKey(name: string): Promise<CreatedApiKey> {
  return api("POST", "/v1/api-keys", { body: { name } });
}

/** Deletes a key; it stops working at once. */
export function deleteApiKey(id: string): Promise<void> {
  return api("DELETE", `/v1/api-keys/${encodeURIComponent(id)}`);
}
