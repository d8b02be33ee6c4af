/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

const DEV_API = process.env.IOPS_API_URL ?? "http://127.0.0.1:8000";

// In `npm run dev` there is no stack to generate /config.json, so serve the config.json of the
// `iops local` at IOPS_API_URL (default port 8000), with its Cognito endpoint moved to this
// server's origin (proxied below): sign-in stays same-origin, as it is when `iops local` serves
// the app. The build never contains a config.json: `iops local` and the site tier write the real one.
function devConfigJson(): Plugin {
  return {
    name: "iops-dev-config-json",
    apply: "serve",
    configureServer(server) {
      server.middlewares.use("/config.json", (_req, res) => {
        fetch(`${DEV_API}/config.json`)
          .then((r) => r.json() as Promise<{ auth?: { endpoint?: string | null } }>)
          .then((config) => {
            if (config.auth?.endpoint) config.auth.endpoint = "/cognito-idp/";
            res.setHeader("Content-Type", "application/json");
            res.end(JSON.stringify(config));
          })
          .catch((err: unknown) => {
            res.statusCode = 502;
            res.end(JSON.stringify({ message: `no iops local at ${DEV_API} (${String(err)})` }));
          });
      });
    },
  };
}

export default defineConfig({
  plugins: [react(), devConfigJson()],
  server: { proxy: { "/cognito-idp": DEV_API } },
  build: {
    target: "es2020",
    sourcemap: false,
    reportCompressedSize: true,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
