import { describe, expect, it } from "vitest";
import { hostHref, incidentHref, insightHref, matchRoute } from "./routes";

describe("routes", () => {
  it.each([
    ["/", { name: "incidents" }],
    ["/index.html", { name: "incidents" }],
    ["/insights", { name: "feed" }],
    ["/insights/", { name: "feed" }],
    ["/fleet", { name: "fleet" }],
    ["/insights/abc-123", { name: "insight", id: "abc-123" }],
    ["/insights/abc-123/", { name: "insight", id: "abc-123" }],
    ["/hosts/web-1", { name: "host", hostname: "web-1" }],
    ["/hosts/ib%20stream%2F42", { name: "host", hostname: "ib stream/42" }],
    ["/incidents/inc-1a2b", { name: "incidents", focus: "inc-1a2b" }],
    ["/incidents", { name: "not-found", path: "/incidents" }],
    ["/hosts/", { name: "not-found", path: "/hosts/" }],
    ["/insights/a/b", { name: "not-found", path: "/insights/a/b" }],
    ["/hosts/%E0%A4%A", { name: "not-found", path: "/hosts/%E0%A4%A" }],
  ])("%s", (path, route) => {
    expect(matchRoute(path)).toEqual(route);
  });

  it("hrefs round-trip through matchRoute", () => {
    expect(matchRoute(insightHref("a/b?c"))).toEqual({ name: "insight", id: "a/b?c" });
    expect(matchRoute(incidentHref("inc-a b"))).toEqual({ name: "incidents", focus: "inc-a b" });
    expect(matchRoute(hostHref("ib_stream_42"))).toEqual({ name: "host", hostname: "ib_stream_42" });
  });
});
