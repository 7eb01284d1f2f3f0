export { checkImageTree, type GuestRootfsInput, imageToGuestRootfs, resolveInTree } from "./guest-rootfs.ts";
export {
  type Descriptor,
  type ImageConfig,
  type ImageRef,
  isLoopbackRegistry,
  type PulledImage,
  parseImageRef,
  RegistryClient,
  type RegistryClientOptions,
} from "./registry.ts";
export { type TarEntry, TruncatedTarError, tarEntries } from "./tar.ts";
export { applyLayer } from "./unpack.ts";
