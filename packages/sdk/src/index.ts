/**
 * @wrenn/sdk — create and drive Wrenn sandboxes (microVMs) from TypeScript.
 * See the package README for a guide to every method.
 */
export {
  type ChannelCatalog,
  type ChannelCreateOptions,
  type ChannelDeliveryInfo,
  type ChannelInfo,
  type ChannelProviderField,
  Channels,
  type ChannelTestResult,
} from "./channels.ts";
export { CommandHandle, type OutputHandlers } from "./command-handle.ts";
export {
  type CommandOptions,
  Commands,
  type ConnectOptions,
  DEFAULT_COMMAND_TIMEOUT_MS,
  type ProcessInfo,
} from "./commands.ts";
export {
  type ConnectionConfig,
  type ConnectionOptions,
  DEFAULT_API_URL,
  DEFAULT_REQUEST_TIMEOUT_MS,
  resolveConfig,
} from "./config.ts";
export type { FileUrlOptions } from "./envd/file-urls.ts";
export { ENVD_PORT } from "./envd/transport.ts";
export {
  AuthenticationError,
  CommandExitError,
  type CommandResult,
  ConflictError,
  type ErrorCode,
  errorFromConnect,
  errorFromHttp,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  RateLimitError,
  SandboxError,
  TimeoutError,
  WrennError,
} from "./errors.ts";
export {
  type EntryInfo,
  type FileData,
  type FileKind,
  Files,
  type FilesOptions,
  type FilesystemEvent,
  type WatchHandle,
  type WatchOptions,
  type WriteEntry,
  type WriteInfo,
} from "./files.ts";
export { type SandboxListOptions, SandboxPaginator } from "./paginator.ts";
export { Pty, type PtyCreateOptions, type PtySize } from "./pty.ts";
export {
  Sandbox,
  type SandboxConnectOptions,
  type SandboxCreateOptions,
  type SandboxForkOptions,
  type SandboxNetworkOptions,
  type SandboxRequestOptions,
} from "./sandbox.ts";
export type {
  MetricsPoint,
  MetricsRange,
  SandboxInfo,
  SandboxMetrics,
  SandboxState,
  SandboxWire,
  SnapshotInfo,
} from "./sandbox-info.ts";
export {
  type BuildInfo,
  type BuildLogEntry,
  type BuildStatus,
  type BuildStepInfo,
  type TemplateBuildOptions,
  type TemplateStep,
  Templates,
  type WaitForBuildOptions,
} from "./templates.ts";
