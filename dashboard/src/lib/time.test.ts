import { describe, expect, it } from "vitest";
import { formatRelative } from "./time";

describe("formatRelative", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  it.each([
    ["2026-01-01T12:00:00Z", "just now"],
    ["2026-01-01T11:59:18Z", "42 s ago"],
    ["2026-01-01T11:55:00Z", "5 min ago"],
    ["2026-01-01T09:00:00Z", "3 h ago"],
    ["2025-12-30T12:00:00Z", "2 d ago"],
    ["2026-01-01T12:10:00Z", "in 10 min"],
    ["not a time", "not a time"],
  ])("%s -> %s", (iso, text) => {
    expect(formatRelative(iso, now)).toBe(text);
  });
});
