// @vitest-environment happy-dom
// (the library and the app keep tokens in the browser's sessionStorage)
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApiClient } from "../api/client";
import type { AuthConfig } from "../config";
import { fakeCognito, type FakeUser } from "../test/fakeCognito";
import { json, scriptedFetch } from "../test/fixtures";
import { Auth, EXPIRED_NOTICE } from "./auth";
import { LIBRARY_PREFIX, tabStorage } from "./storage";

const ENDPOINT = "http://127.0.0.1:8000/cognito-idp/";
const CONFIG: AuthConfig = {
  region: "eu-west-1",
  userPoolId: "eu-west-1_abc",
  clientId: "client123",
  endpoint: ENDPOINT,
  flow: "USER_PASSWORD_AUTH",
};

function setup(users: Record<string, FakeUser> = { alice: { password: "Correct-Horse-1" } }, options?: { lifetimeS: number }, config = CONFIG) {
  const cognito = fakeCognito(users, options);
  vi.stubGlobal("fetch", cognito.fetchImpl);
  const auth = new Auth(config);
  return { cognito, auth };
}

const libraryKeys = () => Object.keys(sessionStorage).filter((k) => k.startsWith(LIBRARY_PREFIX));
const consoleSpies = () => (["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m));

beforeEach(() => {
  sessionStorage.clear();
  localStorage.clear();
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("sign-in", () => {
  it("signs in with the configured flow at the configured endpoint and hands out the ID token", async () => {
    const spies = consoleSpies();
    const { cognito, auth } = setup();
    await auth.restore();
    expect(auth.getSnapshot()).toEqual({ step: "signIn", notice: null });

    await auth.signIn("alice", "Correct-Horse-1");
    expect(auth.getSnapshot()).toEqual({ step: "signedIn", username: "alice" });
    expect(cognito.ops()).toEqual(["InitiateAuth:USER_PASSWORD_AUTH"]);
    expect(cognito.calls[0]).toMatchObject({
      url: ENDPOINT,
      target: "AWSCognitoIdentityProviderService.InitiateAuth",
      body: { ClientId: "client123", AuthParameters: { USERNAME: "alice", PASSWORD: "Correct-Horse-1" } },
    });
    const token = await auth.idToken();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    // In this tab's sessionStorage, nowhere else, and never printed.
    expect(Object.values(sessionStorage)).toContain(token);
    expect(localStorage.length).toBe(0);
    for (const spy of spies) expect(JSON.stringify(spy.mock.calls)).not.toContain(String(token).split(".")[1]);
  });

  it("a wrong password is an error with Cognito's words, and nobody is signed in", async () => {
    const { auth } = setup();
    await auth.restore();
    await expect(auth.signIn("alice", "wrong")).rejects.toThrow("Incorrect username or password.");
    expect(auth.getSnapshot().step).toBe("signIn");
    await expect(auth.idToken()).resolves.toBeNull();
    expect(libraryKeys()).toEqual([]);
  });

  it("an unknown user gets the same words as a wrong password", async () => {
    const { auth } = setup();
    await expect(auth.signIn("mallory", "x")).rejects.toThrow("Incorrect username or password.");
  });

  it("an invited user chooses a new password, then is signed in", async () => {
    const { cognito, auth } = setup({ bob: { password: "Temp-1234", mustChangePassword: true } });
    await auth.signIn("bob", "Temp-1234");
    expect(auth.getSnapshot()).toEqual({ step: "newPassword", username: "bob" });
    await expect(auth.idToken()).resolves.toBeNull();

    await auth.completeNewPassword("Brand-New-Pass-9");
    expect(auth.getSnapshot()).toEqual({ step: "signedIn", username: "bob" });
    expect(cognito.users.bob?.password).toBe("Brand-New-Pass-9");
    expect(cognito.calls[1]).toMatchObject({
      target: "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
      body: { ChallengeName: "NEW_PASSWORD_REQUIRED", ChallengeResponses: { USERNAME: "bob", NEW_PASSWORD: "Brand-New-Pass-9" } },
    });
  });

  it("a TOTP challenge asks for the code; a wrong code can be retried", async () => {
    const { auth } = setup({ carol: { password: "Pw-123456", totp: "123456" } });
    await auth.signIn("carol", "Pw-123456");
    expect(auth.getSnapshot()).toEqual({ step: "code", username: "carol", kind: "totp" });
    await expect(auth.submitCode("000000")).rejects.toThrow(/code is not right/);
    expect(auth.getSnapshot().step).toBe("code");
    await auth.submitCode(" 123456 ");
    expect(auth.getSnapshot()).toEqual({ step: "signedIn", username: "carol" });
  });

  it("cancel leaves a challenge for the sign-in form", async () => {
    const { auth } = setup({ bob: { password: "Temp-1234", mustChangePassword: true } });
    await auth.signIn("bob", "Temp-1234");
    auth.cancel();
    expect(auth.getSnapshot()).toEqual({ step: "signIn", notice: null });
    await expect(auth.completeNewPassword("x")).rejects.toThrow("no sign-in in progress");
  });

  it("USER_SRP_AUTH starts SRP against Cognito's default endpoint when endpoint is null", async () => {
    const { cognito, auth } = setup(undefined, undefined, { ...CONFIG, endpoint: null, flow: "USER_SRP_AUTH" });
    await expect(auth.signIn("alice", "Correct-Horse-1")).rejects.toThrow(/fake Cognito does not do InitiateAuth USER_SRP_AUTH/);
    expect(cognito.calls[0]?.url).toBe("https://cognito-idp.eu-west-1.amazonaws.com/");
    expect(cognito.calls[0]?.body).toMatchObject({ AuthFlow: "USER_SRP_AUTH", AuthParameters: { USERNAME: "alice" } });
    expect(JSON.stringify(cognito.calls[0]?.body)).not.toContain("Correct-Horse-1"); // SRP never sends the password
  });
});

describe("tokens", () => {
  it("refreshes with the refresh token before the ID token expires", async () => {
    const { cognito, auth } = setup(undefined, { lifetimeS: 60 }); // inside the refresh margin
    await auth.signIn("alice", "Correct-Horse-1");
    const first = Object.entries(sessionStorage).find(([k]) => k.endsWith(".idToken"))?.[1];
    const [a, b] = await Promise.all([auth.idToken(), auth.idToken()]);
    expect(cognito.ops()).toEqual(["InitiateAuth:USER_PASSWORD_AUTH", "InitiateAuth:REFRESH_TOKEN_AUTH"]); // one refresh for both
    expect(a).toBe(b);
    expect(a).not.toBe(first);
    expect(localStorage.length).toBe(0);
  });

  it("a 401 from the API triggers one refresh and a retry with the new token", async () => {
    const { cognito, auth } = setup();
    await auth.signIn("alice", "Correct-Horse-1");
    const before = await auth.idToken();
    const api = scriptedFetch(json({ message: "Unauthorized" }, 401), json([]));
    await expect(createApiClient("http://h", auth, api.fetchImpl).recentInsights(5)).resolves.toEqual([]);
    expect(cognito.ops()).toEqual(["InitiateAuth:USER_PASSWORD_AUTH", "InitiateAuth:REFRESH_TOKEN_AUTH"]);
    expect(api.calls[0]?.authorization).toBe(before);
    expect(api.calls[1]?.authorization).toBe(await auth.idToken());
    expect(api.calls[1]?.authorization).not.toBe(before);
    expect(auth.getSnapshot().step).toBe("signedIn");
  });

  it("a 401 whose refresh Cognito refuses returns to the sign-in page and forgets the tokens", async () => {
    const { auth } = setup();
    await auth.signIn("alice", "Correct-Horse-1");
    const elsewhere = new Auth(CONFIG, tabStorage(null)); // the same user signing out everywhere revokes our refresh token
    await elsewhere.signIn("alice", "Correct-Horse-1");
    await elsewhere.signOut();

    vi.useFakeTimers({ toFake: ["setTimeout"] }); // the library retries a refused refresh for ~6 s
    const api = scriptedFetch(json({ message: "Unauthorized" }, 401));
    const pending = createApiClient("http://h", auth, api.fetchImpl).recentInsights(5);
    const outcome = expect(pending).rejects.toMatchObject({ status: 401 });
    await vi.advanceTimersByTimeAsync(10_000);
    await outcome;
    expect(api.calls).toHaveLength(1);
    expect(auth.getSnapshot()).toEqual({ step: "signIn", notice: EXPIRED_NOTICE });
    expect(libraryKeys()).toEqual([]);
    await expect(auth.idToken()).resolves.toBeNull();
  });

  it("sign-out revokes the session at Cognito and clears every token", async () => {
    const { cognito, auth } = setup();
    await auth.signIn("alice", "Correct-Horse-1");
    expect(libraryKeys().length).toBeGreaterThan(0);
    sessionStorage.setItem("unrelated", "kept");

    await auth.signOut();
    expect(cognito.ops()).toEqual(["InitiateAuth:USER_PASSWORD_AUTH", "GlobalSignOut"]);
    expect(auth.getSnapshot()).toEqual({ step: "signIn", notice: null });
    expect(libraryKeys()).toEqual([]);
    expect(sessionStorage.getItem("unrelated")).toBe("kept");
    await expect(auth.idToken()).resolves.toBeNull();
    await expect(auth.refresh()).resolves.toBeNull();
    expect(localStorage.length).toBe(0);
  });

  it("a reload in the same tab restores the session; after sign-out it does not", async () => {
    const { auth } = setup();
    await auth.signIn("alice", "Correct-Horse-1");
    const token = await auth.idToken();

    const reloaded = new Auth(CONFIG);
    await reloaded.restore();
    expect(reloaded.getSnapshot()).toEqual({ step: "signedIn", username: "alice" });
    await expect(reloaded.idToken()).resolves.toBe(token);

    await reloaded.signOut();
    const again = new Auth(CONFIG);
    await again.restore();
    expect(again.getSnapshot().step).toBe("signIn");
  });
});

describe("tabStorage", () => {
  it("keeps to memory when there is no sessionStorage, and clear() drops only the library's keys", () => {
    const store = tabStorage(null);
    store.setItem(`${LIBRARY_PREFIX}c.alice.idToken`, "t");
    expect(store.getItem(`${LIBRARY_PREFIX}c.alice.idToken`)).toBe("t");
    store.clear();
    expect(store.getItem(`${LIBRARY_PREFIX}c.alice.idToken`)).toBeNull();
    expect(sessionStorage.length + localStorage.length).toBe(0);
  });
});
