import { errors } from "@wrenn/common";
import {
  type ApiKey,
  type ApiKeyListing,
  createApiKey,
  type Database,
  deleteApiKey,
  getUserById,
  listApiKeys,
  type User,
} from "@wrenn/db";
import { apiKeyDisplayPrefix, generateApiKey, hashApiKey } from "../auth/api-keys.ts";
import { currentTeamAccess, requireUser, roleAtLeast } from "./access.ts";
import { actorOf } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";
import { requireBelowCap, teamCaps } from "./team-caps.ts";

/** API keys of the caller's current team. */
export class ApiKeysService {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditLogger,
  ) {}

  /** The current team's keys (prefix, name, creator, last use; never the key). */
  async list(auth: AuthContext): Promise<ApiKeyListing[]> {
    const { team } = await currentTeamAccess(this.db, auth);
    return listApiKeys(this.db, team.id);
  }

  /**
   * Creates a key; the plaintext is returned here once and never stored. `creator` is the
   * caller's user row as the database has it now, for the response's `created_by`.
   */
  async create(auth: AuthContext, name: string): Promise<{ key: string; row: ApiKey; creator?: User }> {
    const userId = requireUser(auth);
    const { team } = await currentTeamAccess(this.db, auth);
    requireBelowCap((await listApiKeys(this.db, team.id)).length, teamCaps.apiKeys, "API keys per team");
    const key = generateApiKey();
    const row = await createApiKey(this.db, {
      teamId: team.id,
      name,
      keyHash: hashApiKey(key),
      keyPrefix: apiKeyDisplayPrefix(key),
      createdBy: userId,
    });
    await this.audit.apiKeyCreated(actorOf(auth), team.id, row.id, name);
    const creator = await getUserById(this.db, userId);
    return { key, row, ...(creator ? { creator } : {}) };
  }

  /**
   * Deletes a key of the current team; it stops working on the next request.
   * Members may delete keys they created; admins and owners any key.
   */
  async delete(auth: AuthContext, keyId: string): Promise<void> {
    const userId = requireUser(auth);
    const { team, role } = await currentTeamAccess(this.db, auth);
    const deleted = await this.db.transaction(async (tx) => {
      const row = await deleteApiKey(tx, team.id, keyId);
      if (!row) throw errors.notFound("API key not found");
      if (row.createdBy !== userId && !(role && roleAtLeast(role, "admin"))) {
        throw errors.permissionDenied("only admins can delete other members' keys");
      }
      return row;
    });
    await this.audit.apiKeyRevoked(actorOf(auth), team.id, deleted.id, deleted.name);
  }
}
