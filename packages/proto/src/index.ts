/**
 * @wrenn/proto: generated protocol types and service descriptors.
 *
 * - envd (in-guest daemon, E2B wire-compatible): every message, enum and the
 *   `Process` / `Filesystem` services are exported flat; their names do not clash.
 * - host agent: the `HostAgentService` descriptor flat, and every message and
 *   enum under the `hostagent` namespace (its ListDirRequest, Signal, ProcessInfo,
 *   ... would clash with envd's), e.g. `create(hostagent.CreateSandboxRequestSchema, …)`.
 */
export * from "./gen/envd/filesystem/filesystem_pb.ts";
export * from "./gen/envd/process/process_pb.ts";
export * as hostagent from "./gen/hostagent/v1/hostagent_pb.ts";
export { HostAgentService } from "./gen/hostagent/v1/hostagent_pb.ts";
