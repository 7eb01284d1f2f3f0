import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";

/** `/channels`: the team's notification channels. Loaded on first visit. */
export const channelsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/channels",
  component: lazyRouteComponent(() => import("./ChannelsPage.tsx"), "ChannelsPage"),
});
