import { QueryClient } from "@tanstack/react-query";
import { createRouter } from "@tanstack/react-router";
import { ApiError } from "./api/client.ts";
import { loginRoute, oauthCallbackRoute, signupRoute } from "./pages/auth/routes.tsx";
import { pageRoutes } from "./pages/registry.tsx";
import { appRoute } from "./routes/app-route.tsx";
import { rootRoute } from "./routes/root.tsx";

/**
 * Query defaults: polling pages keep showing their last data while refetching (structural sharing
 * keeps unchanged rows the same objects, so React re-renders only what changed — no flicker); a
 * 4xx is never retried (it will not get better), other failures twice.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, err) =>
          !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
        refetchOnWindowFocus: true,
        staleTime: 5_000,
      },
      mutations: { retry: false },
    },
  });
}

const routeTree = rootRoute.addChildren([
  loginRoute,
  signupRoute,
  oauthCallbackRoute,
  appRoute.addChildren([...pageRoutes]),
]);

/** Builds the app's router around a query client. */
export function createAppRouter(queryClient: QueryClient) {
  return createRouter({
    routeTree,
    context: { queryClient },
    defaultPreload: "intent",
    scrollRestoration: true,
  });
}

declare module "@tanstack/react-router" {
  interface Register {
    router: ReturnType<typeof createAppRouter>;
  }
}
