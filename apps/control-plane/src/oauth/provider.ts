/** What a provider tells us about the person signing in. */
export interface OAuthProfile {
  /** The provider's stable user id (never the email, which can change). */
  providerUserId: string;
  /** A verified email address. */
  email: string;
  name: string;
}

/** One OAuth 2.0 identity provider. Adding a provider = one file implementing this + one registry line. */
export interface OAuthProvider {
  /** URL segment: `/v1/auth/oauth/{name}`. */
  readonly name: string;
  /** Where to send the browser to start signing in. */
  authorizationUrl(state: string, redirectUri: string): string;
  /** Exchanges the callback's code for the user's profile. Throws on any provider failure. */
  exchange(code: string, redirectUri: string): Promise<OAuthProfile>;
}

/** A provider-side failure (bad code, network, no verified email); the message is safe to log. */
export class OAuthError extends Error {
  override readonly name = "OAuthError";
}
