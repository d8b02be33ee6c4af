// @vitest-environment happy-dom
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Auth } from "../auth/auth";
import type { AuthConfig } from "../config";
import { fakeCognito, type FakeUser } from "../test/fakeCognito";
import { Session } from "./Session";

const CONFIG: AuthConfig = { region: "eu-west-1", userPoolId: "eu-west-1_abc", clientId: "c1", endpoint: "http://h/cognito-idp/", flow: "USER_PASSWORD_AUTH" };

let root: Root;
let container: HTMLElement;

/** The app over a fake Cognito; API calls (anything else) answer an empty feed. */
async function mount(users: Record<string, FakeUser>) {
  const cognito = fakeCognito(users);
  vi.stubGlobal("fetch", (input: RequestInfo | URL, init?: RequestInit) =>
    String(input).startsWith(CONFIG.endpoint ?? "") ? cognito.fetchImpl(input, init) : Promise.resolve(new Response("[]")),
  );
  const auth = new Auth(CONFIG);
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
  await act(async () => {
    root.render(<Session apiUrl="http://h" auth={auth} />);
    await auth.restore();
  });
  return cognito;
}

const $ = (selector: string) => container.querySelector<HTMLElement>(selector);

/** Type into a controlled input the way React notices (its value setter, then an input event). */
function type(name: string, value: string) {
  const input = container.querySelector<HTMLInputElement>(`input[name="${name}"]`);
  if (!input) throw new Error(`no input ${name}`);
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set?.call(input, value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

async function submit(testId: string) {
  await act(async () => {
    $(`[data-testid="${testId}"]`)?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await vi.waitFor(() => expect($('[aria-busy="true"]')).toBeNull());
  });
}

beforeEach(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
  sessionStorage.clear();
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

describe("sign-in page", () => {
  it("shows the error for a wrong password and stays on the form", async () => {
    await mount({ alice: { password: "Pw-1234567890!" } });
    act(() => {
      type("username", "alice");
      type("password", "nope");
    });
    await submit("signin-form");
    expect($('[data-testid="signin-error"]')?.textContent).toBe("Incorrect username or password.");
    expect($('[data-testid="signed-in-user"]')).toBeNull();
  });

  it("walks an invited user through choosing a new password, then signs out", async () => {
    const cognito = await mount({ bob: { password: "Temp-1234", mustChangePassword: true } });
    act(() => {
      type("username", "bob");
      type("password", "Temp-1234");
    });
    await submit("signin-form");
    expect($('[data-testid="new-password-form"] h1')?.textContent).toBe("Choose a new password");

    act(() => {
      type("new-password", "Brand-New-Pass-9");
      type("confirm-password", "Brand-New-Pass-8");
    });
    await submit("new-password-form");
    expect($('[data-testid="signin-error"]')?.textContent).toBe("The two passwords are not the same.");

    act(() => type("confirm-password", "Brand-New-Pass-9"));
    await submit("new-password-form");
    expect($('[data-testid="signed-in-user"]')?.textContent).toBe("bob");
    expect(cognito.users.bob?.password).toBe("Brand-New-Pass-9");

    await act(async () => {
      [...container.querySelectorAll("button")].find((b) => b.textContent === "Sign out")?.click();
      await vi.waitFor(() => expect($('[data-testid="signin-form"]')).not.toBeNull());
    });
    expect($('[data-testid="signed-in-user"]')).toBeNull();
    expect(cognito.ops()).toContain("GlobalSignOut");
  });

  it("asks for the TOTP code when MFA is on", async () => {
    await mount({ carol: { password: "Pw-1234567890!", totp: "424242" } });
    act(() => {
      type("username", "carol");
      type("password", "Pw-1234567890!");
    });
    await submit("signin-form");
    expect($('[data-testid="mfa-form"]')?.textContent).toContain("authenticator app");
    act(() => type("code", "424242"));
    await submit("mfa-form");
    expect($('[data-testid="signed-in-user"]')?.textContent).toBe("carol");
  });
});
