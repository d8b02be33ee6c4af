import { createContext, useContext, useSyncExternalStore } from "react";
import type { ApiClient } from "./api/client";
import type { Auth, AuthState } from "./auth/auth";
import type { ConnectionState, ConnectionTracker } from "./lib/connection";

export interface AppServices {
  api: ApiClient;
  tracker: ConnectionTracker;
  auth: Auth;
}

export const ServicesContext = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const services = useContext(ServicesContext);
  if (services === null) throw new Error("useServices outside <ServicesContext.Provider>");
  return services;
}

export function useConnection(): ConnectionState {
  const { tracker } = useServices();
  return useSyncExternalStore(tracker.subscribe, tracker.getSnapshot);
}

export function useAuthState(auth: Auth): AuthState {
  return useSyncExternalStore(auth.subscribe, auth.getSnapshot);
}
