import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { endToEndHeaders } from "@wrenn/common";

/** Headers for the request to the guest: end-to-end headers plus the usual X-Forwarded-* set. */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  clientAddress: string | undefined,
): OutgoingHttpHeaders {
  const result = endToEndHeaders(headers);
  const host = headers.host ?? (headers[":authority"] as string | undefined);
  if (host) {
    result.host = host;
    result["x-forwarded-host"] ??= host;
  }
  if (clientAddress) {
    const prior = headers["x-forwarded-for"];
    result["x-forwarded-for"] = prior ? `${prior}, ${clientAddress}` : clientAddress;
  }
  result["x-forwarded-proto"] ??= "http";
  return result;
}
