import { getRouteApi } from "@tanstack/react-router";
import { BuildPage } from "./BuildPage.tsx";

const route = getRouteApi("/app/builds/$id");

/** The `/builds/$id` route's component. */
export function BuildRoute() {
  const { id } = route.useParams();
  return <BuildPage key={id} id={id} />;
}

const adminRoute = getRouteApi("/app/admin/builds/$id");

/** The `/admin/builds/$id` route's component. */
export function AdminBuildRoute() {
  const { id } = adminRoute.useParams();
  return <BuildPage key={id} id={id} scope="platform" />;
}
