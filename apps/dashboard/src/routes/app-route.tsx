import { createRoute, redirect } from "@tanstack/react-router";
import { session } from "../auth/session.ts";
import { AppLayout } from "../layout/AppLayout.tsx";
import { rootRoute } from "./root.tsx";

/**
 * The signed-in part of the app (pathless): no token → the login page, remembering where the user
 * was going. Every page route (capsules, and the pages in `pages/registry.tsx`) hangs under it.
 */
export const appRoute = createRoute({
  getParentRoute: () => rootRoute,
  id: "app",
  beforeLoad: ({ location }) => {
    if (!session.token()) {
      throw redirect({ to: "/login", search: { redirect: location.href } });
    }
  },
  component: AppLayout,
});
