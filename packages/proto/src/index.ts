/**
 * @wrenn/proto: generated protocol types and service descriptors.
 *
 * envd (in-guest daemon, E2B wire-compatible): every message, enum and the
 * `Process` / `Filesystem` services are exported flat; their names do not clash.
 */
export * from "./gen/envd/filesystem/filesystem_pb.ts";
export * from "./gen/envd/process/process_pb.ts";
