import { and, eq } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { oauthProviders } from "../schema.ts";

/** The user linked to a provider identity, or undefined. */
export async function findOAuthUserId(
  ex: Executor,
  provider: string,
  providerUserId: string,
): Promise<string | undefined> {
  const [row] = await ex
    .select({ userId: oauthProviders.userId })
    .from(oauthProviders)
    .where(and(eq(oauthProviders.provider, provider), eq(oauthProviders.providerUserId, providerUserId)))
    .limit(1);
  return row?.userId;
}

/** Links a provider identity to a user; a second link of the same identity is a unique violation. */
export async function linkOAuthIdentity(
  ex: Executor,
  input: { provider: string; providerUserId: string; userId: string; email: string },
): Promise<void> {
  await ex.insert(oauthProviders).values(input);
}
