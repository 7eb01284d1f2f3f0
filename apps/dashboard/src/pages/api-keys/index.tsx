import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";

/** `/api-keys`. Loaded on first visit. */
export const apiKeysRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/api-keys",
  component: lazyRouteComponent(() => import("./ApiKeysPage.tsx"), "ApiKeysPage"),
});
