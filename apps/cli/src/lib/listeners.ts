import type { EventEmitter } from "node:events";

type Listener = Parameters<EventEmitter["on"]>[1];

/**
 * Adds each `[emitter, event, listener]` and answers the function that removes them all, so a
 * command's signal, stdin and stdout handlers are registered and unregistered from one list.
 */
export function listenAll(bindings: [EventEmitter, string, Listener][]): () => void {
  for (const [emitter, event, listener] of bindings) emitter.on(event, listener);
  return () => {
    for (const [emitter, event, listener] of bindings) emitter.off(event, listener);
  };
}
