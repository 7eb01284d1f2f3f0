import type { Config } from "../config.ts";
import type { OAuthProvider } from "./provider.ts";
import { githubProvider } from "./providers/github.ts";

/** The providers configured for this deployment, by URL name. */
export function buildProviderRegistry(config: Config): Map<string, OAuthProvider> {
  const providers: OAuthProvider[] = [];
  if (config.github) providers.push(githubProvider(config.github));
  return new Map(providers.map((p) => [p.name, p]));
}
