/**
 * The page registry: every signed-in page's route (their sidebar entries are in `layout/nav.ts`,
 * which imports no route, so the layout and the routes do not import each other).
 */
import {
  adminAuditRoute,
  adminHostsRoute,
  adminTeamsRoute,
  adminTemplatesRoute,
  adminUsersRoute,
} from "./admin/index.tsx";
import { apiKeysRoute } from "./api-keys/index.tsx";
import { auditRoute } from "./audit/index.tsx";
import { adminBuildDetailRoute, adminBuildsRoute, buildDetailRoute, buildsRoute } from "./builds/index.tsx";
import { byocHostsRoute } from "./byoc-hosts/index.tsx";
import { capsuleDetailRoute, capsulesIndexRoute, capsulesRoute } from "./capsules/index.tsx";
import { channelsRoute } from "./channels/index.tsx";
import { statsRoute } from "./stats/index.tsx";
import { teamRoute } from "./team/index.tsx";
import { templatesRoute } from "./templates/index.tsx";

/** Every route under the signed-in layout. */
export const pageRoutes = [
  capsulesIndexRoute,
  capsulesRoute,
  capsuleDetailRoute,
  statsRoute,
  templatesRoute,
  apiKeysRoute,
  teamRoute,
  auditRoute,
  byocHostsRoute,
  buildsRoute,
  buildDetailRoute,
  channelsRoute,
  adminHostsRoute,
  adminTemplatesRoute,
  adminTeamsRoute,
  adminUsersRoute,
  adminBuildsRoute,
  adminBuildDetailRoute,
  adminAuditRoute,
] as const;
