import type { ActorType } from "@wrenn/db";
import { formatId } from "../ids.ts";
import type { AuthContext } from "./auth-context.ts";

/** Who performed an action, as recorded in the audit log. */
export interface Actor {
  type: ActorType;
  id: string;
  name: string;
}

/** The actor for an authenticated request: the user, or the API key (with its id and name). */
export function actorOf(auth: AuthContext): Actor {
  if (auth.kind === "api_key" && auth.apiKey) {
    return { type: "api_key", id: formatId("apiKey", auth.apiKey.id), name: auth.apiKey.name };
  }
  return {
    type: "user",
    id: auth.userId ? formatId("user", auth.userId) : "",
    name: auth.name || auth.email,
  };
}

/** The actor for background work (reapers, monitors). */
export const systemActor: Actor = { type: "system", id: "system", name: "system" };
