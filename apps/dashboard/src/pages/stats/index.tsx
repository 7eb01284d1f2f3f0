import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";
import { parseStatsSearch } from "./range.ts";

/** `/stats?range=1h`: the range lives in the URL so a link or a reload shows the same view. */
export const statsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/stats",
  validateSearch: parseStatsSearch,
  // Chart.js is loaded with the page, not with the app: most sessions start on the capsules list.
  component: lazyRouteComponent(() => import("./StatsRoute.tsx"), "StatsRoute"),
});
