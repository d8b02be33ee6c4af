import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo } from "react";
import { useServices } from "../context";
import { recentInsightsQuery, startPolling } from "../lib/polling";
import { matchRoute } from "../lib/routes";
import { useAlertToasts } from "../hooks/useAlertToasts";
import { Link, useLocation } from "../router";
import { AlertsFeed } from "./AlertsFeed";
import { FleetPage } from "./FleetPage";
import { Header } from "./Header";
import { HostView } from "./HostView";
import { IncidentsPage } from "./IncidentsPage";
import { InsightDetail } from "./InsightDetail";
import { ErrorState } from "./States";
import { ToastStack } from "./Toasts";

/** The shell: the feed poll runs on every view, so status and toasts work everywhere. */
export function App() {
  const { api, tracker } = useServices();
  const { pathname } = useLocation();
  const queryClient = useQueryClient();
  const options = useMemo(() => recentInsightsQuery(api, tracker), [api, tracker]);
  const recent = useQuery(options);
  useEffect(() => startPolling(queryClient, options.queryKey), [queryClient, options]);
  const { toasts, dismiss } = useAlertToasts(recent.data);
  const route = matchRoute(pathname);

  return (
    <div className="app">
      <Header route={route} />
      <main className="main">
        {route.name === "incidents" ? (
          <IncidentsPage key={route.focus ?? ""} focus={route.focus} />
        ) : route.name === "feed" ? (
          <AlertsFeed query={recent} />
        ) : route.name === "fleet" ? (
          <FleetPage insights={recent.data ?? []} />
        ) : route.name === "insight" ? (
          <InsightDetail key={route.id} id={route.id} />
        ) : route.name === "host" ? (
          <HostView key={route.hostname} hostname={route.hostname} />
        ) : (
          <ErrorState title="Page not found" detail={route.path}>
            <Link href="/" className="button">
              Go to the incidents
            </Link>
          </ErrorState>
        )}
      </main>
      <ToastStack toasts={toasts} onDismiss={dismiss} />
    </div>
  );
}
