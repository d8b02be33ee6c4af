import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Auth } from "./auth/auth";
import { Session } from "./components/Session";
import { ErrorState } from "./components/States";
import { loadConfig } from "./config";
import "./styles.css";

const root = createRoot(document.getElementById("root") as HTMLElement);

loadConfig().then(
  (config) => {
    const auth = new Auth(config.auth);
    void auth.restore();
    root.render(
      <StrictMode>
        <Session apiUrl={config.apiUrl} auth={auth} />
      </StrictMode>,
    );
  },
  (err: unknown) => {
    root.render(
      <main className="main">
        <ErrorState title="The dashboard is not configured" detail={`Couldn't read /config.json: ${err instanceof Error ? err.message : String(err)}`}>
          <p className="muted">
            It should contain <code>{'{"apiUrl": "https://…", "auth": {"region", "userPoolId", "clientId", "endpoint", "flow"}}'}</code>;{" "}
            <code>iops local</code> and <code>pulumi up</code> write it.
          </p>
        </ErrorState>
      </main>,
    );
  },
);
