/**
 * The sidebar's entries, in order. Kept apart from the page routes (`pages/registry.tsx`): the
 * routes hang under the layout, so the layout must not import them.
 */
import type { Me } from "../api/account.ts";

/** One sidebar link. */
export interface NavEntry {
  /** A path of one of the page routes (`pages/registry.tsx`). */
  to: string;
  label: string;
  /** `main`: the team's pages; `admin`: shown while the admin switch is on (platform admins only). */
  section: "main" | "admin";
  /** `data-testid` of the link: `nav-<name>`. */
  testId: string;
  /** When false the entry is hidden (e.g. BYOC hosts for a team that is not BYOC). */
  visible?: (me: Me) => boolean;
}

/** The sidebar. */
export const navEntries: NavEntry[] = [
  { to: "/capsules", label: "Capsules", section: "main", testId: "nav-capsules" },
  { to: "/stats", label: "Stats", section: "main", testId: "nav-stats" },
  { to: "/templates", label: "Templates", section: "main", testId: "nav-templates" },
  { to: "/api-keys", label: "API keys", section: "main", testId: "nav-api-keys" },
  { to: "/team", label: "Team", section: "main", testId: "nav-team" },
  { to: "/audit", label: "Audit log", section: "main", testId: "nav-audit" },
  {
    to: "/hosts",
    label: "BYOC hosts",
    section: "main",
    testId: "nav-hosts",
    visible: (me) => me.team.is_byoc,
  },
  { to: "/builds", label: "Builds", section: "main", testId: "nav-builds" },
  { to: "/channels", label: "Channels", section: "main", testId: "nav-channels" },
  { to: "/admin/hosts", label: "Hosts", section: "admin", testId: "nav-admin-hosts" },
  { to: "/admin/templates", label: "Templates", section: "admin", testId: "nav-admin-templates" },
  { to: "/admin/teams", label: "Teams", section: "admin", testId: "nav-admin-teams" },
  { to: "/admin/users", label: "Users", section: "admin", testId: "nav-admin-users" },
  { to: "/admin/builds", label: "Builds", section: "admin", testId: "nav-admin-builds" },
  { to: "/admin/audit", label: "Audit log", section: "admin", testId: "nav-admin-audit" },
];
