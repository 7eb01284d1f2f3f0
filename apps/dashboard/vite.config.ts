import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { writeSourceHash } from "@wrenn/common/source-hash";
import { defineConfig, type Plugin } from "vite";

const appDir = fileURLToPath(new URL(".", import.meta.url));

/**
 * Records which sources the build was made from (`dist/.source-hash`), so the control plane can
 * refuse to serve a build that no longer matches the sources next to it.
 */
function recordSourceHash(): Plugin {
  return {
    name: "wrenn-source-hash",
    apply: "build",
    closeBundle() {
      writeSourceHash(appDir);
    },
  };
}

// The dev server proxies the API to a control plane (WRENN_API, default the `wrenn up` port) so
// `npm run dev -w @wrenn/dashboard` works against a real deployment.
const api = process.env.WRENN_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react(), recordSourceHash()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 900 },
  server: {
    proxy: {
      "/v1": { target: api, ws: true, changeOrigin: true },
      "/openapi.json": api,
    },
  },
});
