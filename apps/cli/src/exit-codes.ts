/**
 * Exit codes scripts can rely on (documented in apps/cli/README.md). `wrenn sandbox exec` and
 * `wrenn sandbox shell` instead exit with the remote command's own code once it has run.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  unauthenticated: 4,
  conflict: 5,
  unavailable: 6,
  timeout: 7,
  interrupted: 130,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
