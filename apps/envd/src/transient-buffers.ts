/**
 * Returns the memory of short-lived Buffers promptly.
 *
 * Every pipe read and file chunk envd handles is a fresh Buffer whose bytes live
 * outside V8's heap. V8 frees them only when a collection finds the Buffer
 * object dead, and what starts a collection is JavaScript allocation (a few
 * hundred bytes per chunk here) or, much later, external memory passing a
 * limit of about 64 MB. So a command printing 60 MB left envd 30–56 MB
 * larger, in guest pages that stay touched: measured in bench/README.md
 * ("envd's transient buffers"). A minor collection every few MiB moved through
 * envd frees them while they are still young; it costs about a millisecond
 * (the young generation is 1 MiB, see images/guest/envd-wrapper.sh).
 *
 * It needs `--expose-gc` (the guest's wrapper passes it); without it this is a
 * no-op and envd only grows as described.
 */

/** Bytes of short-lived Buffers between two minor collections. */
export const SCAVENGE_EVERY_BYTES = 4 * 1024 * 1024;

type MinorCollector = (options: { type: "minor" }) => void;

let sinceLastScavenge = 0;
let scavenges = 0;

/** Counts `bytes` of Buffers that were just handled and are now garbage (or soon will be). */
export function noteTransientBytes(bytes: number): void {
  sinceLastScavenge += bytes;
  if (sinceLastScavenge < SCAVENGE_EVERY_BYTES) return;
  sinceLastScavenge = 0;
  const collect = (globalThis as { gc?: MinorCollector }).gc;
  if (!collect) return;
  collect({ type: "minor" });
  scavenges++;
}

/** Minor collections started by `noteTransientBytes` since envd started (for tests and metrics). */
export function transientScavenges(): number {
  return scavenges;
}
