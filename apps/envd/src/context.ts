import type { Logger } from "@wrenn/common";
import type { FileMetadataStore } from "./file-metadata/xattr.ts";
import type { EnvdState } from "./state.ts";
import type { UserAccount, UserDatabase } from "./users.ts";

/** Static settings envd starts with (flags and environment, see main.ts). */
export interface EnvdConfig {
  /** TCP port envd listens on (49983 in a sandbox). */
  port: number;
  /** Address to listen on. */
  host: string;
  passwdFile: string;
  groupFile: string;
  /** Whether `/init` may set the system clock from the host's timestamp (never on a shared host). */
  clockSync: boolean;
  /** Addresses loopback-only servers are forwarded on; undefined = every non-loopback IPv4 address. */
  forwardAddresses: string[] | undefined;
  /** How often port forwarding re-reads /proc/net/tcp*, in ms (0 disables forwarding). */
  portScanIntervalMs: number;
  /** Bytes of unread output kept per process (and per slow reader) before the oldest is dropped. */
  outputBufferBytes: number;
  /** The version reported to clients. */
  version: string;
}

/** Everything a request handler needs: settings, mutable state, accounts, logger. */
export interface EnvdContext {
  config: EnvdConfig;
  state: EnvdState;
  users: UserDatabase;
  logger: Logger;
  /** File metadata (user extended attributes) for uploads, Stat and ListDir. */
  metadata: FileMetadataStore;
}

/**
 * The account a request acts as: an explicit name (query parameter or Basic
 * auth) wins, else the default user `/init` set.
 */
export function requestUser(ctx: EnvdContext, explicit: string | undefined): UserAccount {
  return ctx.users.resolve(explicit || ctx.state.defaultUser);
}
