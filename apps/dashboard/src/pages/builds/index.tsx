import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";

// Chunks loaded on first visit.

/** `/builds`: the team's template builds. */
export const buildsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/builds",
  component: lazyRouteComponent(() => import("./BuildsPage.tsx"), "BuildsPage"),
});

/** `/builds/$id`: one build with its live log. */
export const buildDetailRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/builds/$id",
  component: lazyRouteComponent(() => import("./BuildRoute.tsx"), "BuildRoute"),
});

/** `/admin/builds`: every team's builds; new ones make platform templates (platform admins). */
export const adminBuildsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/admin/builds",
  component: lazyRouteComponent(() => import("./BuildsPage.tsx"), "AdminBuildsPage"),
});

/** `/admin/builds/$id`. */
export const adminBuildDetailRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/admin/builds/$id",
  component: lazyRouteComponent(() => import("./BuildRoute.tsx"), "AdminBuildRoute"),
});
