import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";
import { parseHostsSearch } from "./search.ts";

// Each page is a chunk loaded on first visit (most sessions never open the admin section).
// The admin pages need no client-side guard: every /v1/admin call is refused (403) for anyone who is
// not a platform admin in the database, and the page shows that refusal as its error.

/** `/admin/hosts?tab=platform|byoc`. */
export const adminHostsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/admin/hosts",
  validateSearch: parseHostsSearch,
  component: lazyRouteComponent(() => import("./AdminHostsRoute.tsx"), "AdminHostsRoute"),
});

/** `/admin/templates`. */
export const adminTemplatesRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/admin/templates",
  component: lazyRouteComponent(() => import("./AdminTemplatesPage.tsx"), "AdminTemplatesPage"),
});

/** `/admin/teams`. */
export const adminTeamsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/admin/teams",
  component: lazyRouteComponent(() => import("./AdminTeamsPage.tsx"), "AdminTeamsPage"),
});

/** `/admin/users`. */
export const adminUsersRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/admin/users",
  component: lazyRouteComponent(() => import("./AdminUsersPage.tsx"), "AdminUsersPage"),
});

/** `/admin/audit`. */
export const adminAuditRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/admin/audit",
  component: lazyRouteComponent(() => import("./AdminAuditPage.tsx"), "AdminAuditPage"),
});
