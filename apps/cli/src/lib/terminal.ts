/** The part of a TTY input stream raw mode needs (process.stdin, or a fake in tests). */
export interface RawCapable {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/**
 * Puts a terminal in raw mode (keystrokes unbuffered and unechoed, Ctrl-C/Ctrl-D as bytes for
 * the remote shell) and guarantees it is put back: `restore()` is idempotent and also runs on
 * process exit, so an exception, a signal or `process.exit` never leaves the user's terminal raw.
 */
export function enterRawMode(
  stdin: RawCapable,
  onExit: (fn: () => void) => () => void = exitHook,
): () => void {
  if (!stdin.isTTY || !stdin.setRawMode) return () => {};
  const wasRaw = Boolean(stdin.isRaw);
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    unhook();
    stdin.setRawMode?.(wasRaw);
  };
  const unhook = onExit(restore);
  return restore;
}

/** Runs `fn` when the process exits; answers the function that unregisters it. */
function exitHook(fn: () => void): () => void {
  process.once("exit", fn);
  return () => process.off("exit", fn);
}
