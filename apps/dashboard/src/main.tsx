import "./styles.css";
import { QueryClientProvider } from "@tanstack/react-query";
import { RouterProvider } from "@tanstack/react-router";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { session } from "./auth/session.ts";
import { createAppRouter, createQueryClient } from "./router.tsx";
import { ErrorBoundary, ToastProvider } from "./ui/index.ts";

const queryClient = createQueryClient();
const router = createAppRouter(queryClient);

// Signed out (logout in another tab, or any request answered 401): back to the login page,
// remembering where the user was.
session.subscribe((token) => {
  if (token) return;
  queryClient.clear();
  const here = router.state.location;
  if (here.pathname.startsWith("/login") || here.pathname.startsWith("/signup")) return;
  void router.navigate({ to: "/login", search: { redirect: here.href } });
});

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <ErrorBoundary>
      <QueryClientProvider client={queryClient}>
        <ToastProvider>
          <RouterProvider router={router} />
        </ToastProvider>
      </QueryClientProvider>
    </ErrorBoundary>
  </StrictMode>,
);
