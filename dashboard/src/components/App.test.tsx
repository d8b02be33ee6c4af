// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { routedFetch, wireInsight } from "../test/fixtures";
import { renderWithApi } from "../test/render";
import { App } from "./App";

type View = Awaited<ReturnType<typeof renderWithApi>>;
let view: View;

beforeEach(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
  window.history.replaceState(null, "", "/");
});
afterEach(() => view.unmount());

describe("app shell", () => {
  it("opens on the incidents; the Insights and Fleet tabs reach the feed and the fleet", async () => {
    const { fetchImpl } = routedFetch((_call, path) =>
      path === "/insights/recent" ? [wireInsight({ entity_id: "web-7" })] : path === "/incidents" ? { incidents: [], nextToken: null } : { metrics: [], nextToken: null },
    );
    view = await renderWithApi(<App />, fetchImpl);
    const current = () => view.$('.tabs [aria-current="page"]')?.textContent;
    await view.until(() => expect(view.$('[data-testid="empty-incidents"]')).not.toBeNull());
    expect(current()).toBe("Incidents");

    const tab = (name: string) => view.$$(".tabs a").find((a) => a.textContent === name);
    await view.until(() => tab("Insights")?.click());
    await view.until(() => expect(view.$('[data-testid="alerts-feed"]')).not.toBeNull());
    expect([window.location.pathname, current()]).toEqual(["/insights", "Insights"]);

    await view.until(() => tab("Fleet")?.click());
    await view.until(() => expect(view.$('[data-testid="fleet-host"][data-host="web-7"]')).not.toBeNull());
    expect([window.location.pathname, current()]).toEqual(["/fleet", "Fleet"]);
  });
});
