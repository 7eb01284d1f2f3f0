/** Client-side checks run before a sign-in/up form is sent (the server checks again). */
export function validateCredentials(
  v: { name?: string; email: string; password: string },
  isSignup: boolean,
) {
  const errors: { name?: string; email?: string; password?: string } = {};
  if (isSignup && !v.name?.trim()) errors.name = "Enter your name.";
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.email.trim())) errors.email = "Enter a valid email address.";
  if (isSignup ? v.password.length < 8 : v.password.length === 0) {
    errors.password = isSignup ? "Use at least 8 characters." : "Enter your password.";
  }
  return errors;
}

/** Reads `#token=` from the OAuth callback redirect, stores it and leaves the URL without it. */
export function tokenFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  return params.get("token") ?? undefined;
}
