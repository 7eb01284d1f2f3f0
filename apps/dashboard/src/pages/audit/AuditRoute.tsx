import { getRouteApi } from "@tanstack/react-router";
import { AuditPage } from "./AuditPage.tsx";

const route = getRouteApi("/app/audit");

/** The `/audit` route's component (a chunk loaded on first visit). */
export function AuditRoute() {
  const filters = route.useSearch();
  const navigate = route.useNavigate();
  return <AuditPage filters={filters} onFilters={(f) => void navigate({ search: f })} />;
}
