import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, type ReactElement } from "react";
import { createRoot } from "react-dom/client";
import { vi } from "vitest";
import { createApiClient } from "../api/client";
import { Auth } from "../auth/auth";
import { ServicesContext, type AppServices } from "../context";
import { ConnectionTracker } from "../lib/connection";
import { fixedTokens } from "./fixtures";

/**
 * Mount a signed-in view (happy-dom) over a fake API `fetchImpl`, with its own query cache.
 * Tests set `IS_REACT_ACT_ENVIRONMENT` and call `unmount()` afterwards.
 */
export async function renderWithApi(ui: ReactElement, fetchImpl: typeof fetch) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } });
  const auth = new Auth({ region: "eu-west-1", userPoolId: "eu-west-1_abc", clientId: "c1", endpoint: null, flow: "USER_PASSWORD_AUTH" });
  const services: AppServices = { api: createApiClient("http://h", fixedTokens().tokens, fetchImpl), tracker: new ConnectionTracker(), auth };
  const container = document.createElement("div");
  document.body.append(container);
  const root = createRoot(container);
  await act(async () => {
    root.render(
      <QueryClientProvider client={queryClient}>
        <ServicesContext.Provider value={services}>{ui}</ServicesContext.Provider>
      </QueryClientProvider>,
    );
  });
  const $ = (selector: string) => container.querySelector<HTMLElement>(selector);
  const $$ = (selector: string) => [...container.querySelectorAll<HTMLElement>(selector)];
  return {
    container,
    queryClient,
    $,
    $$,
    /** Wait (inside act) until `check` stops throwing. */
    until: (check: () => void) => act(() => vi.waitFor(check, { timeout: 2_000 })),
    /** Click the first button (within `scope`) whose text is `text`. */
    click: async (text: string, scope: ParentNode = container) => {
      const button = [...scope.querySelectorAll("button")].find((b) => b.textContent?.trim() === text);
      if (!button) throw new Error(`no button "${text}"`);
      await act(async () => button.click());
    },
    /** Advance fake intervals (the polls) by `ms`. */
    tick: (ms: number) => act(async () => void vi.advanceTimersByTime(ms)),
    /** Set a form control's value the way React notices (its value setter, then the event). */
    input: async (el: HTMLInputElement | HTMLSelectElement | null | undefined, value: string) => {
      if (!el) throw new Error("no such control");
      const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
      await act(async () => {
        Object.getOwnPropertyDescriptor(proto, "value")?.set?.call(el, value);
        el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
      });
    },
    unmount: () => {
      act(() => root.unmount());
      container.remove();
      queryClient.clear();
    },
  };
}
