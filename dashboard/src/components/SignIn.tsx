import { useState, type FormEvent, type ReactNode } from "react";
import type { Auth, AuthState } from "../auth/auth";

type SignInStep = Exclude<AuthState, { step: "restoring" } | { step: "signedIn" }>;

/** The page shown until someone is signed in: the sign-in form, or the challenge Cognito asks for. */
export function SignInPage({ auth, state }: { auth: Auth; state: SignInStep }) {
  return (
    <main className="signin-page">
      <div className="card signin">
        <div className="brand signin-brand">
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <path d="M2 13h4l3-8 5 14 3-7h5" fill="none" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
          IOps Dashboard
        </div>
        {state.step === "signIn" ? (
          <PasswordForm key="signin" auth={auth} notice={state.notice} />
        ) : state.step === "newPassword" ? (
          <NewPasswordForm key="new" auth={auth} username={state.username} />
        ) : (
          <CodeForm key="code" auth={auth} kind={state.kind} />
        )}
      </div>
    </main>
  );
}

/** Submit handling shared by the forms: busy while the call runs, its error shown beneath. */
function useSubmit(run: () => Promise<void> | string | null) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const problem = await run();
      if (typeof problem === "string") setError(problem);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false); // harmless after success: the page has moved on and React ignores it
    }
  };
  return { busy, error, onSubmit };
}

function Form({ testId, title, onSubmit, error, busy, submit, children, footer }: {
  testId: string;
  footer?: ReactNode;
  title: string;
  onSubmit: (e: FormEvent) => void;
  error: string | null;
  busy: boolean;
  submit: string;
  children: ReactNode;
}) {
  // method="post": should the script not handle the submit, the browser must never put fields in the URL.
  return (
    <form className="signin-form" data-testid={testId} method="post" onSubmit={onSubmit} aria-busy={busy}>
      <h1>{title}</h1>
      {children}
      {error ? (
        <p className="signin-error" role="alert" data-testid="signin-error">
          {error}
        </p>
      ) : null}
      <button type="submit" className="button primary" disabled={busy}>
        {busy ? "Please wait…" : submit}
      </button>
      {footer}
    </form>
  );
}

function PasswordForm({ auth, notice }: { auth: Auth; notice: string | null }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, onSubmit } = useSubmit(() => auth.signIn(username, password));
  return (
    <Form testId="signin-form" title="Sign in" onSubmit={onSubmit} error={error} busy={busy} submit="Sign in">
      {notice && !error ? <p className="signin-notice" data-testid="signin-notice">{notice}</p> : null}
      <label>
        User name
        <input name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
    </Form>
  );
}

function NewPasswordForm({ auth, username }: { auth: Auth; username: string }) {
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const { busy, error, onSubmit } = useSubmit(() =>
    password === confirm ? auth.completeNewPassword(password) : "The two passwords are not the same.",
  );
  return (
    <Form
      testId="new-password-form"
      title="Choose a new password"
      onSubmit={onSubmit}
      error={error}
      busy={busy}
      submit="Set password and sign in"
      footer={<CancelButton auth={auth} />}
    >
      <p className="muted">
        <strong>{username}</strong> signed in with a temporary password; choose your own to continue.
      </p>
      <input type="hidden" name="username" autoComplete="username" value={username} />
      <label>
        New password
        <input name="new-password" type="password" autoComplete="new-password" required autoFocus value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <label>
        New password again
        <input name="confirm-password" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
      </label>
    </Form>
  );
}

function CodeForm({ auth, kind }: { auth: Auth; kind: "totp" | "sms" }) {
  const [code, setCode] = useState("");
  const { busy, error, onSubmit } = useSubmit(() => auth.submitCode(code));
  return (
    <Form testId="mfa-form" title="Enter your code" onSubmit={onSubmit} error={error} busy={busy} submit="Verify" footer={<CancelButton auth={auth} />}>
      <p className="muted">{kind === "totp" ? "The 6-digit code from your authenticator app." : "The code we sent you by SMS."}</p>
      <label>
        Code
        <input name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 ]*" required autoFocus value={code} onChange={(e) => setCode(e.target.value)} />
      </label>
    </Form>
  );
}

function CancelButton({ auth }: { auth: Auth }) {
  return (
    <button type="button" className="link-button signin-cancel" onClick={() => auth.cancel()}>
      Back to sign-in
    </button>
  );
}
