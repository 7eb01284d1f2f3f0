import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";

/** `/team`. Loaded on first visit. */
export const teamRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/team",
  component: lazyRouteComponent(() => import("./TeamPage.tsx"), "TeamPage"),
});
