import { getRouteApi } from "@tanstack/react-router";
import { AdminHostsPage } from "./AdminHostsPage.tsx";

const route = getRouteApi("/app/admin/hosts");

/** The `/admin/hosts` route's component (the tab lives in the URL). */
export function AdminHostsRoute() {
  const { tab } = route.useSearch();
  const navigate = route.useNavigate();
  return <AdminHostsPage tab={tab} onTab={(t) => void navigate({ search: { tab: t }, replace: true })} />;
}
