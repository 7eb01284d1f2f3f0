import { getRouteApi } from "@tanstack/react-router";
import { CapsulePage } from "./CapsulePage.tsx";

const route = getRouteApi("/app/capsules/$id");

/** The `/capsules/$id` route's component (a lazily loaded chunk, see `index.tsx`). */
export function CapsuleRoute() {
  const { id } = route.useParams();
  return <CapsulePage key={id} id={id} search={route.useSearch()} />;
}
