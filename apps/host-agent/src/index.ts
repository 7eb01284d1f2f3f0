/**
 * @wrenn/host-agent: the daemon that owns the microVMs on one machine.
 * Run it with `node --import tsx apps/host-agent/src/main.ts`; embed it with {@link startAgent}.
 */
export { type AgentConfig, loadConfig } from "./config.ts";
export { EnvdClient, type EnvdInit, type ExecResult, type GuestCommand } from "./envd-client/client.ts";
export { connectAgent, type RunningAgent, startAgent } from "./main.ts";
export { GATEWAY_IP, GUEST_IP, GUEST_MAC, type SlotNetwork } from "./network/addresses.ts";
export { type CleanupReport, cleanupStaleNetworks } from "./network/cleanup.ts";
export { buildMessage as buildDnsMessage, parseQuestion as parseDnsQuestion } from "./network/dns-message.ts";
export { run as runCommand } from "./network/exec.ts";
export { ConnTracker, SandboxProxy } from "./proxy/index.ts";
export {
  type BeatResult,
  type ConnectOptions,
  connectToControlPlane,
  detectHostSpecs,
  HEARTBEAT_INTERVAL_MS,
  type HostCredentials,
  HostSession,
  type HostTlsMaterial,
  loadCredentials,
  registerHost,
  saveCredentials,
} from "./registration/index.ts";
export { toConnectError } from "./rpc/errors.ts";
export { type AgentServer, startAgentServer } from "./rpc/server.ts";
export { createHostAgentService } from "./rpc/service.ts";
export { sweepForkRamDirs } from "./sandbox/fork-captures.ts";
export { type SandboxHooks, type SandboxLimits, SandboxManager } from "./sandbox/manager.ts";
export { TtlReaper } from "./sandbox/reaper.ts";
export { TemplateOperations } from "./sandbox/template-ops.ts";
export type { SandboxRecord, SandboxSpec, SandboxState, SandboxView } from "./sandbox/types.ts";
export type { SnapshotMetadata } from "./snapshot/metadata.ts";
export { TemplateStore } from "./snapshot/templates.ts";
export { createOverlay, type DiskUsage, diskUsage } from "./storage/disk.ts";
export { findGuestImage, type GuestImage } from "./storage/guest-image.ts";
export { DataLayout, PLATFORM_TEAM_ID } from "./storage/layout.ts";
export {
  GUEST_NET,
  guestNetKernelArgs,
  type NetworkProvider,
  UserModeNetworkProvider,
} from "./vmm/network-attachment.ts";
export { QemuMicrovmDriver } from "./vmm/qemu.ts";
export { QmpClient } from "./vmm/qmp.ts";
export type { VmInstance, Vmm, VmSpec } from "./vmm/types.ts";
