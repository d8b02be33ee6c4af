import { useState } from "react";
import { useAuthState, useServices } from "../context";
import { FEED_PATH, FLEET_PATH, type Route } from "../lib/routes";
import { Link } from "../router";
import { ConnectionStatus } from "./ConnectionStatus";

const TABS: readonly { label: string; href: string; routes: readonly Route["name"][] }[] = [
  { label: "Incidents", href: "/", routes: ["incidents"] },
  { label: "Insights", href: FEED_PATH, routes: ["feed", "insight"] },
  { label: "Fleet", href: FLEET_PATH, routes: ["fleet", "host"] },
];

export function Header({ route }: { route: Route }) {
  return (
    <header className="topbar">
      <Link href="/" className="brand">
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
          <path d="M2 13h4l3-8 5 14 3-7h5" fill="none" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
        IOps Dashboard
      </Link>
      <nav className="tabs" aria-label="Pages">
        {TABS.map((tab) => {
          const active = tab.routes.includes(route.name);
          return (
            <Link key={tab.href} href={tab.href} className={`tab${active ? " active" : ""}`} aria-current={active ? "page" : undefined}>
              {tab.label}
            </Link>
          );
        })}
      </nav>
      <div className="topbar-end">
        <ConnectionStatus />
        <UserMenu />
      </div>
    </header>
  );
}

function UserMenu() {
  const { auth } = useServices();
  const state = useAuthState(auth);
  const [leaving, setLeaving] = useState(false);
  if (state.step !== "signedIn") return null;
  const signOut = () => {
    setLeaving(true);
    void auth.signOut();
  };
  return (
    <div className="user">
      <span className="user-name" data-testid="signed-in-user" title={`Signed in as ${state.username}`}>
        {state.username}
      </span>
      <button type="button" className="button small" onClick={signOut} disabled={leaving}>
        {leaving ? "Signing out…" : "Sign out"}
      </button>
    </div>
  );
}
