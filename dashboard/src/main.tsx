import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createApiClient } from "./api/client";
import { App } from "./components/App";
import { ErrorState } from "./components/States";
import { loadConfig } from "./config";
import { ServicesContext } from "./context";
import { ConnectionTracker } from "./lib/connection";
import "./styles.css";

const root = createRoot(document.getElementById("root") as HTMLElement);

loadConfig().then(
  (config) => {
    const queryClient = new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } });
    const services = { api: createApiClient(config.apiUrl), tracker: new ConnectionTracker() };
    root.render(
      <StrictMode>
        <QueryClientProvider client={queryClient}>
          <ServicesContext.Provider value={services}>
            <App />
          </ServicesContext.Provider>
        </QueryClientProvider>
      </StrictMode>,
    );
  },
  (err: unknown) => {
    root.render(
      <main className="main">
        <ErrorState title="The dashboard is not configured" detail={`Couldn't read /config.json: ${err instanceof Error ? err.message : String(err)}`}>
          <p className="muted">
            It should contain <code>{'{"apiUrl": "https://…"}'}</code>; <code>iops local</code> and <code>pulumi up</code> write it.
          </p>
        </ErrorState>
      </main>,
    );
  },
);
