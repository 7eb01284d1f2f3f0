import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium (scripts/install-system-deps installs it); playwright never downloads one. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Launches headless Chromium; fails (never skips) when it is not installed. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/** Desktop and phone viewports every page must work at. */
export const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

/** A new browser context (own storage: a separate user) at a viewport, downloads allowed. */
export function newContext(
  browser: Browser,
  baseURL: string,
  viewport: { width: number; height: number } = viewports.desktop,
): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport, acceptDownloads: true });
}

/** Where screenshots go: `$WRENN_SHOTS_DIR` or `$TMPDIR/wrenn-dashboard-shots`. */
export function shotsDir(): string {
  const dir = process.env.WRENN_SHOTS_DIR ?? join(tmpdir(), "wrenn-dashboard-shots");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Full-page screenshot `<dir>/<name>.png`. */
export async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shotsDir(), `${name}.png`), fullPage: true });
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws `what`). */
export async function until<T>(
  what: string,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
