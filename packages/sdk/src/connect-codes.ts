import type { ConnectError } from "@connectrpc/connect";

export {
  type ConnectCodeName,
  connectCodeName,
  errorCodeOfConnectName,
} from "@wrenn/common/connect-names";

// What the SDK's error mapping needs to know about Connect, without loading Connect (the code
// names and their Wrenn codes come from the catalogue, `@wrenn/common/connect-names`): importing
// `@connectrpc/connect` for its `Code` enum would load the whole package (and @bufbuild/protobuf)
// with the SDK, ~100+ ms, although a program that only uses the REST API never sees a Connect
// error. Connect itself is loaded with the envd clients (envd/rpc.ts).

/**
 * Whether `err` is a Connect error: the same test as `ConnectError`'s own `instanceof` (which
 * also accepts errors of another copy of the package), done without loading Connect.
 */
export function isConnectError(err: unknown): err is ConnectError {
  if (!(err instanceof Error) || err.name !== "ConnectError") return false;
  const e = err as Error & Record<string, unknown>;
  return (
    typeof e.code === "number" &&
    "metadata" in e &&
    Array.isArray(e.details) &&
    typeof e.rawMessage === "string" &&
    "cause" in e
  );
}
