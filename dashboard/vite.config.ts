/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

// In `npm run dev` there is no stack to generate /config.json, so serve one that points at
// IOPS_API_URL (default: a local `iops local` on port 8000). The build never contains a
// config.json: `iops local` and the site tier write the real one next to index.html.
function devConfigJson(): Plugin {
  return {
    name: "iops-dev-config-json",
    apply: "serve",
    configureServer(server) {
      server.middlewares.use("/config.json", (_req, res) => {
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ apiUrl: process.env.IOPS_API_URL ?? "http://127.0.0.1:8000" }));
      });
    },
  };
}

export default defineConfig({
  plugins: [react(), devConfigJson()],
  build: {
    target: "es2020",
    sourcemap: false,
    reportCompressedSize: true,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
