import type { ChannelMessage } from "./events.ts";
import { DeliveryError, type OutboundClient } from "./outbound.ts";
import type { ChannelProvider } from "./providers/index.ts";

/** The outcome of one attempt: `retryable` says whether trying again later could help. */
export type AttemptResult = { ok: true; status: number } | { ok: false; error: string; retryable: boolean };

/** Sends `message` through `provider` once; never throws, never puts the config in the error. */
export async function sendOnce(
  outbound: OutboundClient,
  provider: ChannelProvider,
  config: Record<string, string>,
  message: ChannelMessage,
): Promise<AttemptResult> {
  try {
    const res = await outbound.send(provider.request(config, message));
    const accepted = provider.accepted ? provider.accepted(res) : res.status >= 200 && res.status < 300;
    if (accepted) return { ok: true, status: res.status };
    // 408/429/5xx are the receiver's passing trouble; other answers will not change by waiting.
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500 || res.status < 300;
    return { ok: false, error: `${provider.label} answered HTTP ${res.status}`, retryable };
  } catch (err) {
    if (err instanceof DeliveryError) return { ok: false, error: err.message, retryable: err.retryable };
    // Anything else is our bug; its message could carry the request, so it is not reported.
    return { ok: false, error: "internal error while sending", retryable: true };
  }
}
