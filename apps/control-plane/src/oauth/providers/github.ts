import type { GithubOAuthConfig } from "../../config.ts";
import { OAuthError, type OAuthProfile, type OAuthProvider } from "../provider.ts";

interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  email: string | null;
}
interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/**
 * GitHub sign-in. The profile's public email is used when present; otherwise
 * the emails endpoint supplies the verified primary address. URLs come from the
 * configuration so tests can point them at a local fake.
 */
export function githubProvider(cfg: GithubOAuthConfig, fetchImpl: typeof fetch = fetch): OAuthProvider {
  async function api<T>(path: string, token: string): Promise<T> {
    const res = await fetchImpl(`${cfg.apiUrl}${path}`, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/vnd.github+json",
        "user-agent": "wrenn-control-plane",
      },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new OAuthError(`GitHub ${path} answered ${res.status}`);
    return (await res.json()) as T;
  }

  return {
    name: "github",
    authorizationUrl(state, redirectUri) {
      const u = new URL(cfg.authorizeUrl);
      u.searchParams.set("client_id", cfg.clientId);
      u.searchParams.set("redirect_uri", redirectUri);
      u.searchParams.set("scope", "read:user user:email");
      u.searchParams.set("state", state);
      return u.toString();
    },
    async exchange(code, redirectUri): Promise<OAuthProfile> {
      const res = await fetchImpl(cfg.tokenUrl, {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          client_id: cfg.clientId,
          client_secret: cfg.clientSecret,
          code,
          redirect_uri: redirectUri,
        }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string };
      if (!res.ok || !body.access_token) {
        throw new OAuthError(`GitHub token exchange failed: ${body.error ?? res.status}`);
      }
      const token = body.access_token;
      const user = await api<GithubUser>("/user", token);
      let email = user.email;
      if (!email) {
        const emails = await api<GithubEmail[]>("/user/emails", token);
        email = emails.find((e) => e.primary && e.verified)?.email ?? null;
      }
      if (!email) throw new OAuthError("GitHub account has no verified primary email");
      return { providerUserId: String(user.id), email, name: user.name ?? user.login };
    },
  };
}
