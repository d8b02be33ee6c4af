import { describe, expect, it } from "vitest";
import { makeInsight } from "../test/fixtures";
import { applyFilters, filtersToSearch, hostsOf, isFiltered, NO_FILTERS, parseFilters, toggleSeverity } from "./filters";

const low = makeInsight({ alert_id: "low", severity: "LOW", entity_id: "db-1", affected_hosts: ["db-1"] });
const high = makeInsight({ alert_id: "high", severity: "HIGH", entity_id: "web-1", affected_hosts: ["web-1", "lb-1"] });
const crit = makeInsight({ alert_id: "crit", severity: "CRITICAL", entity_id: "ib_stream_42", affected_hosts: [] });
const all = [low, high, crit];
const ids = (xs: { alert_id: string }[]) => xs.map((x) => x.alert_id);

describe("filters", () => {
  it("no filters keep everything", () => {
    expect(ids(applyFilters(all, NO_FILTERS))).toEqual(["low", "high", "crit"]);
    expect(isFiltered(NO_FILTERS)).toBe(false);
  });

  it("filter by severities", () => {
    expect(ids(applyFilters(all, { severities: ["HIGH", "CRITICAL"], host: null }))).toEqual(["high", "crit"]);
  });

  it("filter by host matches the entity or an affected host", () => {
    expect(ids(applyFilters(all, { severities: [], host: "lb-1" }))).toEqual(["high"]);
    expect(ids(applyFilters(all, { severities: [], host: "ib_stream_42" }))).toEqual(["crit"]);
    expect(ids(applyFilters(all, { severities: ["LOW"], host: "web-1" }))).toEqual([]);
  });

  it("round-trips through the query string in canonical order", () => {
    const f = parseFilters("?severity=high,critical,bogus&host=web-1");
    expect(f).toEqual({ severities: ["CRITICAL", "HIGH"], host: "web-1" });
    expect(filtersToSearch(f)).toBe("?severity=CRITICAL%2CHIGH&host=web-1");
    expect(parseFilters(filtersToSearch(f))).toEqual(f);
    expect(filtersToSearch(NO_FILTERS)).toBe("");
    expect(parseFilters("")).toEqual(NO_FILTERS);
  });

  it("selecting every severity is the same as no severity filter", () => {
    const f = { severities: ["CRITICAL", "HIGH", "MEDIUM", "LOW"] as const, host: null };
    expect(filtersToSearch({ ...f, severities: [...f.severities] })).toBe("");
    expect(isFiltered({ ...f, severities: [...f.severities] })).toBe(false);
  });

  it("toggles a severity on and off", () => {
    const on = toggleSeverity(toggleSeverity(NO_FILTERS, "LOW"), "CRITICAL");
    expect(on.severities).toEqual(["CRITICAL", "LOW"]);
    expect(toggleSeverity(on, "LOW").severities).toEqual(["CRITICAL"]);
  });

  it("lists every host mentioned, sorted and unique", () => {
    expect(hostsOf(all)).toEqual(["db-1", "ib_stream_42", "lb-1", "web-1"]);
  });
});
