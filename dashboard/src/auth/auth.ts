import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
  type CognitoUserSession,
  type IAuthenticationCallback,
  type ICognitoStorage,
} from "amazon-cognito-identity-js";
import type { TokenSource } from "../api/client";
import type { AuthConfig } from "../config";
import { describeAuthError, isRefusal } from "./errors";
import { tabStorage } from "./storage";

export type AuthState =
  | { step: "restoring" }
  | { step: "signIn"; notice: string | null }
  | { step: "newPassword"; username: string }
  | { step: "code"; username: string; kind: "totp" | "sms" }
  | { step: "signedIn"; username: string };

/** Refresh this long before the ID token expires, so no request leaves with a dying token. */
export const REFRESH_MARGIN_S = 120;

export const EXPIRED_NOTICE = "Your session has ended; sign in again.";

/** Seconds until the session's first token expires, on Cognito's clock (the library's drift). */
function secondsLeft(session: CognitoUserSession): number {
  // getClockDrift is public in the library (isValid uses it) but missing from its typings.
  const drift = (session as CognitoUserSession & { getClockDrift(): number }).getClockDrift();
  const now = Math.floor(Date.now() / 1000) - drift;
  return Math.min(session.getIdToken().getExpiration(), session.getAccessToken().getExpiration()) - now;
}

function displayName(user: CognitoUser, session: CognitoUserSession): string {
  const claims = session.getIdToken().decodePayload();
  const name = claims.email ?? claims["cognito:username"];
  return typeof name === "string" && name !== "" ? name : user.getUsername();
}

/**
 * Signing in to the Cognito user pool and keeping the ID token fresh: a small state machine
 * (sign-in form -> optional challenge -> signed in) over amazon-cognito-identity-js, plus the
 * TokenSource the API client asks before every request. No React here; components subscribe.
 */
export class Auth implements TokenSource {
  private state: AuthState = { step: "restoring" };
  private readonly listeners = new Set<() => void>();
  private readonly pool: CognitoUserPool;
  /** The user signing in (during a challenge) or signed in. */
  private user: CognitoUser | null = null;
  private session: CognitoUserSession | null = null;
  private refreshing: Promise<string | null> | null = null;

  constructor(
    private readonly config: AuthConfig,
    private readonly storage: ICognitoStorage = tabStorage(),
  ) {
    this.pool = new CognitoUserPool({
      UserPoolId: config.userPoolId,
      ClientId: config.clientId,
      Storage: storage,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    });
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): AuthState => this.state;

  private set(state: AuthState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  /** On page load: pick up this tab's session (refreshed by getSession when it has expired). */
  async restore(): Promise<void> {
    const user = this.pool.getCurrentUser();
    const session =
      user === null
        ? null
        : await new Promise<CognitoUserSession | null>((resolve) => user.getSession((err: Error | null, s: CognitoUserSession | null) => resolve(err ? null : s)));
    if (user !== null && session !== null && session.isValid()) this.signedIn(user, session);
    else this.set({ step: "signIn", notice: null });
  }

  signIn(username: string, password: string): Promise<void> {
    const user = new CognitoUser({ Username: username.trim(), Pool: this.pool, Storage: this.storage });
    user.setAuthenticationFlowType(this.config.flow);
    this.user = user;
    const details = new AuthenticationDetails({ Username: username.trim(), Password: password });
    return this.step(user, (callbacks) => user.authenticateUser(details, callbacks));
  }

  /** Answer NEW_PASSWORD_REQUIRED (an invited user's temporary password). */
  async completeNewPassword(newPassword: string): Promise<void> {
    const user = this.pendingUser();
    return this.step(user, (callbacks) => user.completeNewPasswordChallenge(newPassword, {}, callbacks));
  }

  /** Answer an MFA challenge with the code from the authenticator app (or the SMS). */
  async submitCode(code: string): Promise<void> {
    const user = this.pendingUser();
    const mfaType = this.state.step === "code" && this.state.kind === "totp" ? "SOFTWARE_TOKEN_MFA" : "SMS_MFA";
    return this.step(user, (callbacks) => user.sendMFACode(code.trim(), callbacks, mfaType));
  }

  /** Leave a challenge for the sign-in form. */
  cancel(): void {
    this.user = null;
    this.set({ step: "signIn", notice: null });
  }

  /** Revoke the session's tokens at Cognito (best effort), forget them here, show the sign-in page. */
  async signOut(): Promise<void> {
    const user = this.user;
    if (user !== null && this.session !== null) {
      await new Promise<void>((resolve) => user.globalSignOut({ onSuccess: () => resolve(), onFailure: () => resolve() }));
    }
    this.forget();
    this.set({ step: "signIn", notice: null });
  }

  async idToken(): Promise<string | null> {
    const session = this.session;
    if (session === null || this.state.step !== "signedIn") return null;
    const left = secondsLeft(session);
    if (left > REFRESH_MARGIN_S) return session.getIdToken().getJwtToken();
    try {
      return await this.refresh();
    } catch (err) {
      if (left > 0) return session.getIdToken().getJwtToken(); // Cognito unreachable; still good for now
      throw err;
    }
  }

  /** One refresh at a time however many requests ask; null when Cognito refuses the refresh token. */
  refresh(): Promise<string | null> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  expire(): void {
    if (this.state.step !== "signedIn") return;
    this.forget();
    this.set({ step: "signIn", notice: EXPIRED_NOTICE });
  }

  private refreshOnce(): Promise<string | null> {
    const user = this.user;
    const session = this.session;
    if (user === null || session === null) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      user.refreshSession(session.getRefreshToken(), (err: unknown, fresh: CognitoUserSession | null) => {
        if (this.user !== user) resolve(null); // signed out meanwhile
        else if (err) {
          if (isRefusal(err)) resolve(null);
          else reject(err instanceof Error ? err : new Error(String(err)));
        } else if (fresh) {
          this.session = fresh;
          resolve(fresh.getIdToken().getJwtToken());
        } else resolve(null);
      });
    });
  }

  private pendingUser(): CognitoUser {
    if (this.user === null || (this.state.step !== "newPassword" && this.state.step !== "code")) {
      throw new Error("no sign-in in progress");
    }
    return this.user;
  }

  /** Run one library call; its callbacks move the state machine, the promise settles with it. */
  private step(user: CognitoUser, call: (callbacks: IAuthenticationCallback) => void): Promise<void> {
    const username = user.getUsername();
    return new Promise((resolve, reject) => {
      const unsupported = (what: string) => () => reject(new Error(`This account needs ${what}, which the dashboard does not support.`));
      call({
        onSuccess: (session) => {
          this.signedIn(user, session);
          resolve();
        },
        onFailure: (err: unknown) => reject(new Error(describeAuthError(err))),
        newPasswordRequired: () => {
          this.set({ step: "newPassword", username });
          resolve();
        },
        totpRequired: () => {
          this.set({ step: "code", username, kind: "totp" });
          resolve();
        },
        mfaRequired: () => {
          this.set({ step: "code", username, kind: "sms" });
          resolve();
        },
        mfaSetup: unsupported("MFA to be set up first"),
        selectMFAType: unsupported("a choice of MFA type"),
        customChallenge: unsupported("a custom challenge"),
      });
    });
  }

  private signedIn(user: CognitoUser, session: CognitoUserSession): void {
    this.user = user;
    this.session = session;
    this.set({ step: "signedIn", username: displayName(user, session) });
  }

  private forget(): void {
    this.user?.signOut(); // the library drops its cached tokens
    this.storage.clear();
    this.user = null;
    this.session = null;
  }
}
