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
      <ConnectionStatus />
    </header>
  );
}
