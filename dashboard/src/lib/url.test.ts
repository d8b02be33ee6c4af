import { describe, expect, it } from "vitest";
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
