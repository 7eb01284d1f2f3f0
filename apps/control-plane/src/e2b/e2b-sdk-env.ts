import { e2bFormOfApiKey } from "../auth/api-keys.ts";

/** Every variable the `e2b` SDK reads its connection from; tests clear them all first. */
const E2B_VARS = [
  "E2B_API_URL",
  "E2B_SANDBOX_URL",
  "E2B_API_KEY",
  "E2B_DOMAIN",
  "E2B_DEBUG",
  "E2B_ACCESS_TOKEN",
  "E2B_VALIDATE_API_KEY",
];

/**
 * Points the official `e2b` SDK at a Wrenn deployment the way the README tells users to (only
 * E2B_API_URL, E2B_SANDBOX_URL and the key's `e2b_` form), after clearing whatever the
 * environment held. Answers the function that puts the previous values back.
 */
export function pointE2bSdkAt(deployment: { url: string; apiKey: string }): () => void {
  const saved = new Map(E2B_VARS.map((name) => [name, process.env[name]]));
  for (const name of E2B_VARS) delete process.env[name];
  process.env.E2B_API_URL = `${deployment.url}/e2b`;
  process.env.E2B_SANDBOX_URL = deployment.url;
  process.env.E2B_API_KEY = e2bFormOfApiKey(deployment.apiKey);
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
