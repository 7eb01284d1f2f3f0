import { createRoute, lazyRouteComponent } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";
import { parseAuditSearch } from "./filters.ts";

/** `/audit?action=…&status=…`: the filters live in the URL so a reload or a shared link keeps them. */
export const auditRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/audit",
  validateSearch: parseAuditSearch,
  component: lazyRouteComponent(() => import("./AuditRoute.tsx"), "AuditRoute"),
});
