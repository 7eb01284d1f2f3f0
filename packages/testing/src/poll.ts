/**
 * Reads `read()` every 250 ms until `ok` accepts the value and returns it; after `ms` fails
 * with `what` and the last value read (a deadline, never a fixed sleep).
 */
export async function pollUntil<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
}
