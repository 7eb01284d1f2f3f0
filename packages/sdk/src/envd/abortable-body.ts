/** Statuses whose responses cannot carry a body (the Response constructor refuses one). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * `res` with a body that ends as soon as `signal` aborts: a pending read rejects
 * with the signal's reason and the underlying body is cancelled, which closes
 * the connection.
 *
 * Why: Node's fetch (undici) passes the caller's signal on through a controller
 * it holds only weakly once `fetch()` has answered (nodejs/undici#3644,
 * nodejs/node#55428). After a garbage collection, aborting no longer reaches the
 * response body: a long server stream (a directory watch, a command's output)
 * then never ends on the client and its connection stays open. Listening on the
 * signal here keeps the link strong for as long as the body is read.
 */
export function abortableBody(res: Response, signal: AbortSignal | null | undefined): Response {
  if (!signal || !res.body || NULL_BODY_STATUS.has(res.status)) return res;
  const source = res.body.getReader();
  let finished = false;
  let onAbort: () => void = () => {};
  const finish = () => {
    finished = true;
    signal.removeEventListener("abort", onAbort);
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        if (finished) return;
        finish();
        controller.error(signal.reason);
        source.cancel(signal.reason).catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof source.read>>;
      try {
        chunk = await source.read();
      } catch (err) {
        if (finished) return;
        finish();
        throw err;
      }
      // Aborted while the read was pending: the stream has already been errored.
      if (finished) return;
      if (chunk.done) {
        finish();
        controller.close();
      } else {
        controller.enqueue(chunk.value);
      }
    },
    cancel(reason) {
      finish();
      return source.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
