import { createRoute, lazyRouteComponent, redirect } from "@tanstack/react-router";
import { appRoute } from "../../routes/app-route.tsx";
import { CapsulesPage } from "./CapsulesPage.tsx";
import { validateCapsuleSearch, validateCapsulesSearch } from "./search.ts";

/** `/` → the capsules list. */
export const capsulesIndexRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/",
  beforeLoad: () => {
    throw redirect({ to: "/capsules" });
  },
});

/** `/capsules?state=&template=&cursor=`. */
export const capsulesRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/capsules",
  validateSearch: validateCapsulesSearch,
  component: function Capsules() {
    return <CapsulesPage search={capsulesRoute.useSearch()} />;
  },
});

/** `/capsules/$id?tab=&path=&range=`. */
export const capsuleDetailRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/capsules/$id",
  validateSearch: validateCapsuleSearch,
  // Loaded on first visit: the terminal (xterm.js) and charts (Chart.js) are most of the
  // bundle, and the capsules list — the page every session starts on — needs neither.
  component: lazyRouteComponent(() => import("./CapsuleRoute.tsx"), "CapsuleRoute"),
});
