import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";

/** `/templates`. Loaded on first visit. */
export const templatesRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/templates",
  component: lazyRouteComponent(() => import("./TemplatesPage.tsx"), "TemplatesPage"),
});
