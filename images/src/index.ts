export { type BuildOptions, type BuildResult, buildGuestImage, DEFAULT_KEEP_IMAGES } from "./build.ts";
export {
  ENVD_PORT,
  GUEST_NETWORK,
  type GuestCmdlineOptions,
  guestKernelCmdline,
} from "./guest-config.ts";
export { type ArtifactInfo, type ImageManifest, MANIFEST_SCHEMA_VERSION } from "./manifest.ts";
export { DEFAULT_DATA_DIR, IMAGE_FILES, imageLayout, resolveDataDir } from "./paths.ts";
export type { BuildProgress, ProgressListener } from "./progress.ts";
export { type PruneOptions, pruneGuestImages } from "./prune.ts";
export {
  hostTscKhz,
  kvmWorks,
  type PortForward,
  QEMU_BINARY,
  type StartGuestOptions,
  startGuest,
  tcgKernelArgs,
} from "./qemu-boot.ts";
export { type GuestImage, listGuestImages, readGuestImage, resolveGuestImage } from "./resolve.ts";
export { GUEST_PATHS } from "./rootfs.ts";
export { DEFAULT_USER, ROOTFS_PACKAGES } from "./rootfs-base.ts";
