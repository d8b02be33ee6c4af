import { useState } from "react";
import { useAuthState, useServices } from "../context";
import { Link } from "../router";
import { ConnectionStatus } from "./ConnectionStatus";

export function Header() {
  return (
    <header className="topbar">
      <Link href="/" className="brand">
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
          <path d="M2 13h4l3-8 5 14 3-7h5" fill="none" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
        IOps Dashboard
      </Link>
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
