import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * CSRF protection for the OAuth round trip: a random state value travels to
 * the provider and back, and a copy signed with HMAC-SHA256 sits in an
 * HttpOnly cookie; the callback accepts only when both agree.
 */
export class OAuthStateSigner {
  readonly #key: Buffer;
  constructor(secret: string) {
    this.#key = createHmac("sha256", secret).update("wrenn-oauth-state").digest();
  }

  /** A fresh state and the cookie value that vouches for it. */
  issue(): { state: string; cookie: string } {
    const state = randomBytes(24).toString("base64url");
    return { state, cookie: `${state}.${this.#sign(state)}` };
  }

  /** True when the cookie is correctly signed and carries exactly `state`. */
  verify(cookie: string | undefined, state: string | undefined): boolean {
    if (!cookie || !state) return false;
    const dot = cookie.lastIndexOf(".");
    if (dot <= 0) return false;
    const value = cookie.slice(0, dot);
    const mac = Buffer.from(cookie.slice(dot + 1));
    const expected = Buffer.from(this.#sign(value));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return false;
    const a = Buffer.from(value);
    const b = Buffer.from(state);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #sign(value: string): string {
    return createHmac("sha256", this.#key).update(value).digest("base64url");
  }
}
