import { useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { login, signup } from "../../api/account.ts";
import { errorFromResponse, errorMessage } from "../../api/client.ts";
import { safeRedirect, session } from "../../auth/session.ts";
import { Button, Field } from "../../ui/index.ts";
import { tokenFromHash, validateCredentials } from "./credentials.ts";

const OAUTH_ERRORS: Record<string, string> = {
  invalid_state: "The GitHub sign-in expired or was started in another browser. Try again.",
  access_denied: "GitHub sign-in was cancelled.",
  oauth_failed: "GitHub sign-in failed. Try again, or sign in with your email.",
};

const GITHUB_START = "/v1/auth/oauth/github";

function AuthCard({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <div className="brand brand-lg">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Wrenn
        </div>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

/** Email/password sign-in and sign-up (one form, `mode` picks), plus the GitHub button. */
export function CredentialsPage({
  mode,
  redirect,
  error,
}: {
  mode: "login" | "signup";
  redirect?: string;
  error?: string;
}) {
  const isSignup = mode === "signup";
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [fieldErrors, setFieldErrors] = useState<ReturnType<typeof validateCredentials>>({});
  const [formError, setFormError] = useState(error ? (OAUTH_ERRORS[error] ?? "Sign-in failed.") : undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const errs = validateCredentials({ name, email, password }, isSignup);
    setFieldErrors(errs);
    if (Object.keys(errs).length > 0) return;
    setBusy(true);
    setFormError(undefined);
    try {
      const s = isSignup
        ? await signup(name.trim(), email.trim(), password)
        : await login(email.trim(), password);
      queryClient.clear();
      session.signIn(s.token);
      await navigate({ to: safeRedirect(redirect) });
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard title={isSignup ? "Create your account" : "Sign in"}>
      <form onSubmit={submit} noValidate data-testid={isSignup ? "signup-form" : "login-form"}>
        {isSignup ? (
          <Field label="Name" error={fieldErrors.name}>
            {(a) => (
              <input
                {...a}
                name="name"
                autoComplete="name"
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
        ) : null}
        <Field label="Email" error={fieldErrors.email}>
          {(a) => (
            <input
              {...a}
              name="email"
              type="email"
              autoComplete="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          )}
        </Field>
        <Field
          label="Password"
          error={fieldErrors.password}
          hint={isSignup ? "At least 8 characters." : undefined}
        >
          {(a) => (
            <input
              {...a}
              name="password"
              type="password"
              autoComplete={isSignup ? "new-password" : "current-password"}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        {formError ? (
          <p className="form-error" role="alert" data-testid="auth-error">
            {formError}
          </p>
        ) : null}
        <Button type="submit" variant="primary" busy={busy} className="btn-block">
          {isSignup ? "Sign up" : "Sign in"}
        </Button>
      </form>
      <div className="auth-alt">
        <a
          className="btn btn-secondary btn-md btn-block"
          href={GITHUB_START}
          data-testid="github-login"
          onClick={async (e) => {
            // Ask first, so a server without GitHub configured answers with a sentence on this
            // page instead of a JSON error page.
            e.preventDefault();
            setFormError(undefined);
            try {
              const res = await fetch(GITHUB_START, { redirect: "manual" });
              if (res.type === "opaqueredirect" || (res.status >= 300 && res.status < 400)) {
                window.location.assign(GITHUB_START);
                return;
              }
              const err = await errorFromResponse(res);
              setFormError(
                err.code === "not_found"
                  ? "Sign-in with GitHub is not configured on this server."
                  : err.message,
              );
            } catch (err) {
              setFormError(errorMessage(err));
            }
          }}
        >
          Continue with GitHub
        </a>
        {isSignup ? (
          <p>
            Already have an account? <Link to="/login">Sign in</Link>
          </p>
        ) : (
          <p>
            New to Wrenn? <Link to="/signup">Create an account</Link>
          </p>
        )}
      </div>
    </AuthCard>
  );
}

/** `/auth/callback#token=…`: where the control plane's GitHub callback lands. */
export function OAuthCallbackPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [failed, setFailed] = useState(false);
  // Once per page load: signing in re-renders the router, and a second run of this effect would
  // find the hash already gone and report a failure over the sign-in that just worked.
  const consumed = useRef(false);
  useEffect(() => {
    if (consumed.current) return;
    consumed.current = true;
    const token = tokenFromHash(window.location.hash);
    if (!token) {
      window.history.replaceState(null, "", window.location.pathname);
      setFailed(true);
      return;
    }
    queryClient.clear();
    session.signIn(token);
    // `replace`: the callback URL, token and all, leaves the address bar and the history.
    void navigate({ to: "/capsules", replace: true });
  }, [navigate, queryClient]);
  return (
    <AuthCard title={failed ? "Sign-in failed" : "Signing you in…"}>
      {failed ? (
        <p>
          The sign-in link carried no session. <Link to="/login">Back to sign in</Link>
        </p>
      ) : null}
    </AuthCard>
  );
}
