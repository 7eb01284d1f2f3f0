import type { Config } from "../config.ts";
import { SecretBox } from "../crypto/secret-box.ts";
import { OutboundClient } from "./outbound.ts";

/** The secret box (when `WRENN_ENCRYPTION_KEY` is set) and the SSRF-safe client channels use. */
export function channelParts(config: Config): { box: SecretBox | undefined; outbound: OutboundClient } {
  return {
    box: config.encryption
      ? SecretBox.fromSettings(config.encryption.key, config.encryption.previous)
      : undefined,
    outbound: new OutboundClient({
      timeoutMs: config.channels.timeoutMs,
      allowPrivate: config.channels.allowPrivate,
    }),
  };
}
