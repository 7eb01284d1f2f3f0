import { resolveGuestImage } from "@wrenn/images";

/** A finished guest image: the kernel, initramfs and ext4 root file system every template descends from. */
export interface GuestImage {
  hash: string;
  kernel: string;
  initrd: string;
  /** Raw ext4 image. */
  rootfs: string;
}

/**
 * The newest complete guest image under `<dataDir>/images/base/<hash>/` (built by
 * `wrenn image build`). Throws `failed_precondition` naming the build command when
 * there is none, so VM tests fail rather than skip.
 */
export async function findGuestImage(dataDir: string): Promise<GuestImage> {
  const image = await resolveGuestImage(dataDir);
  return { hash: image.hash, kernel: image.kernel, initrd: image.initrd, rootfs: image.rootfs };
}
