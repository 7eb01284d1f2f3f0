import type { QueryClient } from "@tanstack/react-query";
import { createRootRouteWithContext, Outlet } from "@tanstack/react-router";
import { ErrorBoundary, ErrorView } from "../ui/index.ts";

/** What every route can reach through `context`. */
export interface RouterContext {
  queryClient: QueryClient;
}

/** The root route: an error boundary around whichever layout (public or signed-in) matches. */
export const rootRoute = createRootRouteWithContext<RouterContext>()({
  component: () => (
    <ErrorBoundary>
      <Outlet />
    </ErrorBoundary>
  ),
  errorComponent: ({ error, reset }) => (
    <div className="error-page">
      <ErrorView error={error} onRetry={reset} />
    </div>
  ),
  notFoundComponent: () => (
    <div className="error-page" data-testid="not-found">
      <h1>Page not found</h1>
      <p>
        <a href="/capsules">Back to capsules</a>
      </p>
    </div>
  ),
});
