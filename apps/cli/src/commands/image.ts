import type { Command } from "../command.ts";

/** `wrenn image build`: builds the guest kernel, initramfs and rootfs (implemented by the image pipeline). */
export const command: Command = {
  summary: "Build the guest image (kernel, initramfs, rootfs)",
  usage: "Usage: wrenn image build [--force]",
  async run() {
    console.error("wrenn image build: the image pipeline is not built yet");
    return 1;
  },
};
