import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState } from "react";
import { createApiClient } from "../api/client";
import type { Auth } from "../auth/auth";
import { ServicesContext, useAuthState, type AppServices } from "../context";
import { ConnectionTracker } from "../lib/connection";
import { App } from "./App";
import { SignInPage } from "./SignIn";

/** Sign-in page until someone is signed in, then the app; signing out unmounts the app and its data. */
export function Session({ apiUrl, auth }: { apiUrl: string; auth: Auth }) {
  const state = useAuthState(auth);
  if (state.step === "restoring") return null; // a moment: reading this tab's session
  if (state.step !== "signedIn") return <SignInPage auth={auth} state={state} />;
  return <SignedIn apiUrl={apiUrl} auth={auth} />;
}

/** One signed-in session: its own query cache and connection state, so nothing outlives sign-out. */
function SignedIn({ apiUrl, auth }: { apiUrl: string; auth: Auth }) {
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } }));
  const [services] = useState<AppServices>(() => ({ api: createApiClient(apiUrl, auth), tracker: new ConnectionTracker(), auth }));
  return (
    <QueryClientProvider client={queryClient}>
      <ServicesContext.Provider value={services}>
        <App />
      </ServicesContext.Provider>
    </QueryClientProvider>
  );
}
