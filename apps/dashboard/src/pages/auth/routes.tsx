import { createRoute, redirect } from "@tanstack/react-router";
import { session } from "../../auth/session.ts";
import { rootRoute } from "../../routes/root.tsx";
import { CredentialsPage, OAuthCallbackPage } from "./AuthPages.tsx";

/** `?redirect=` (where to go after signing in) and `?error=` (from the OAuth callback). */
export interface AuthSearch {
  redirect?: string;
  error?: string;
}

function validateAuthSearch(s: Record<string, unknown>): AuthSearch {
  return {
    ...(typeof s.redirect === "string" ? { redirect: s.redirect } : {}),
    ...(typeof s.error === "string" ? { error: s.error } : {}),
  };
}

// Already signed in: the auth pages have nothing to offer.
const skipWhenSignedIn = () => {
  if (session.token()) throw redirect({ to: "/capsules" });
};

/** `/login`. */
export const loginRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/login",
  validateSearch: validateAuthSearch,
  beforeLoad: skipWhenSignedIn,
  component: function Login() {
    const s = loginRoute.useSearch();
    return <CredentialsPage mode="login" redirect={s.redirect} error={s.error} />;
  },
});

/** `/signup`. */
export const signupRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/signup",
  validateSearch: validateAuthSearch,
  beforeLoad: skipWhenSignedIn,
  component: function Signup() {
    const s = signupRoute.useSearch();
    return <CredentialsPage mode="signup" redirect={s.redirect} />;
  },
});

/** `/auth/callback#token=…` (GitHub OAuth). */
export const oauthCallbackRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/auth/callback",
  component: OAuthCallbackPage,
});
