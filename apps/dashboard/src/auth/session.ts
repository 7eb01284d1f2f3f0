/**
 * The browser session: the JWT the control plane issued, kept in localStorage so a reload (or a
 * second tab) stays signed in. A token whose `exp` has passed is treated as absent, so an old tab
 * never fires requests that can only answer 401.
 */

const TOKEN_KEY = "wrenn.token";

/** Where the session is stored; `localStorage` in the browser, an in-memory map in tests. */
export interface SessionStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

type Listener = (token: string | undefined) => void;

/** The claims the dashboard reads from a JWT (it never trusts them for authorization). */
export interface TokenClaims {
  /** Expiry, seconds since the epoch. */
  exp?: number;
  sub?: string;
  team_id?: string;
}

/** Decodes a JWT's payload without verifying it (the server verifies); undefined when malformed. */
export function decodeClaims(token: string): TokenClaims | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
    // atob yields one char per byte; the payload is UTF-8 JSON.
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return typeof json === "object" && json !== null ? (json as TokenClaims) : undefined;
  } catch {
    return undefined;
  }
}

/** True when the token has an expiry that is past (with `skewMs` of slack for clock drift). */
export function isExpired(token: string, nowMs = Date.now(), skewMs = 5_000): boolean {
  const claims = decodeClaims(token);
  if (!claims) return true;
  return typeof claims.exp === "number" && claims.exp * 1000 <= nowMs + skewMs;
}

/** One session store; the app uses {@link session}, tests build their own over a fake storage. */
export class SessionStore {
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly storage: SessionStorageLike,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current token, or undefined when signed out or expired (an expired one is dropped). */
  token(): string | undefined {
    const t = this.storage.getItem(TOKEN_KEY) ?? undefined;
    if (t && isExpired(t, this.now())) {
      // Expired while the app was open: the same as a 401, the user goes to the login page.
      this.storage.removeItem(TOKEN_KEY);
      this.emit(undefined);
      return undefined;
    }
    return t;
  }

  /** Stores a new token (sign-in, team switch) and tells subscribers. */
  signIn(token: string): void {
    this.storage.setItem(TOKEN_KEY, token);
    this.emit(token);
  }

  /** Forgets the token (logout, or the server answered 401) and tells subscribers. */
  signOut(): void {
    const had = this.storage.getItem(TOKEN_KEY) !== null;
    this.storage.removeItem(TOKEN_KEY);
    if (had) this.emit(undefined);
  }

  /** Calls `fn` on every sign-in/out; returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Re-announces the token after another tab changed storage. */
  notifyExternalChange(): void {
    this.emit(this.token());
  }

  private emit(token: string | undefined): void {
    for (const fn of this.listeners) fn(token);
  }
}

function browserStorage(): SessionStorageLike {
  if (typeof localStorage !== "undefined") return localStorage;
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
  };
}

/** The app's session. */
export const session = new SessionStore(browserStorage());

if (typeof window !== "undefined") {
  // Logging out in one tab logs out the others.
  window.addEventListener("storage", (e) => {
    if (e.key === TOKEN_KEY) session.notifyExternalChange();
  });
}

/**
 * Where to send the user after signing in: only a same-origin path of this app (never an
 * absolute URL another site could plant in `?redirect=`).
 */
export function safeRedirect(target: string | undefined): string {
  if (!target?.startsWith("/") || target.startsWith("//") || target.startsWith("/\\")) {
    return "/capsules";
  }
  if (target.startsWith("/login") || target.startsWith("/signup") || target.startsWith("/auth/")) {
    return "/capsules";
  }
  return target;
}
