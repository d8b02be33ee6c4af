import { describe, expect, it } from "vitest";
import { parseConfig } from "../config";
import { joinUrl } from "./url";

describe("joinUrl", () => {
  it.each([
    ["http://127.0.0.1:8000", "http://127.0.0.1:8000/insights/recent?limit=50"],
    ["http://127.0.0.1:8000/", "http://127.0.0.1:8000/insights/recent?limit=50"],
    ["https://x.execute-api.us-east-1.amazonaws.com/prod", "https://x.execute-api.us-east-1.amazonaws.com/prod/insights/recent?limit=50"],
    ["https://x.execute-api.us-east-1.amazonaws.com/prod//", "https://x.execute-api.us-east-1.amazonaws.com/prod/insights/recent?limit=50"],
  ])("joins %s", (base, expected) => {
    expect(joinUrl(base, "/insights/recent", { limit: 50 })).toBe(expected);
  });

  it("encodes params and drops empty ones", () => {
    expect(joinUrl("http://h", "metrics", { hostname: "web 1&2", from: "2026-01-01T00:00:00+00:00", to: null, x: undefined })).toBe(
      "http://h/metrics?hostname=web+1%262&from=2026-01-01T00%3A00%3A00%2B00%3A00",
    );
  });
});

describe("parseConfig", () => {
  const origin = "https://d111.cloudfront.net";
  it("strips trailing slashes and keeps a stage path", () => {
    expect(parseConfig({ apiUrl: "https://x.execute-api.eu-west-1.amazonaws.com/prod/" }, origin)).toEqual({
      apiUrl: "https://x.execute-api.eu-west-1.amazonaws.com/prod",
    });
    expect(parseConfig({ apiUrl: "http://127.0.0.1:8000/" }, origin).apiUrl).toBe("http://127.0.0.1:8000");
  });

  it("resolves a relative apiUrl against the page origin", () => {
    expect(parseConfig({ apiUrl: "/" }, origin).apiUrl).toBe(origin);
    expect(parseConfig({ apiUrl: "/api/" }, origin).apiUrl).toBe(`${origin}/api`);
  });

  it.each([[{}], [null], [{ apiUrl: "" }], [{ apiUrl: 42 }], [{ apiUrl: "ftp://x" }]])("rejects %j", (raw) => {
    expect(() => parseConfig(raw, origin)).toThrow(/apiUrl/);
  });
});
