import { getRouteApi } from "@tanstack/react-router";
import { StatsPage } from "./StatsPage.tsx";

const route = getRouteApi("/app/stats");

/** The `/stats` route's component, loaded on first visit (Chart.js stays out of the main bundle). */
export function StatsRoute() {
  const { range } = route.useSearch();
  const navigate = route.useNavigate();
  return (
    <StatsPage range={range} onRangeChange={(r) => void navigate({ search: { range: r }, replace: true })} />
  );
}
