import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";

/** `/hosts`: the team's BYOC hosts (the sidebar shows it only for BYOC teams). Loaded on first visit. */
export const byocHostsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/hosts",
  component: lazyRouteComponent(() => import("./ByocHostsPage.tsx"), "ByocHostsPage"),
});
