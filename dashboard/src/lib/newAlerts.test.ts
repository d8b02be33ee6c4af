import { describe, expect, it } from "vitest";
import { makeInsight } from "../test/fixtures";
import { detectNewAlerts } from "./newAlerts";

const ids = (xs: { alert_id: string }[]) => xs.map((x) => x.alert_id);

describe("new-alert detection", () => {
  const a = makeInsight({ alert_id: "a" });
  const b = makeInsight({ alert_id: "b" });
  const c = makeInsight({ alert_id: "c" });

  it("treats everything present at first load as already seen", () => {
    const first = detectNewAlerts(null, [b, a]);
    expect(first.fresh).toEqual([]);
    expect([...first.seen]).toEqual(["b", "a"]);
  });

  it("reports only alerts not seen before, newest first as polled", () => {
    const first = detectNewAlerts(null, [b, a]);
    const second = detectNewAlerts(first.seen, [c, b, a]);
    expect(ids(second.fresh)).toEqual(["c"]);
    const third = detectNewAlerts(second.seen, [c, b, a]);
    expect(third.fresh).toEqual([]);
  });

  it("does not re-announce an alert that scrolled out of the window and came back", () => {
    const first = detectNewAlerts(null, [a, b]);
    const second = detectNewAlerts(first.seen, [c]);
    expect(ids(second.fresh)).toEqual(["c"]);
    expect(detectNewAlerts(second.seen, [a, c]).fresh).toEqual([]);
  });

  it("an empty first load is a baseline too: the first alert after it is new", () => {
    const first = detectNewAlerts(null, []);
    expect(ids(detectNewAlerts(first.seen, [a]).fresh)).toEqual(["a"]);
  });

  it("does not mutate the previous set and forgets the oldest ids beyond capacity", () => {
    const first = detectNewAlerts(null, [a]);
    const second = detectNewAlerts(first.seen, [b, c], 2);
    expect([...first.seen]).toEqual(["a"]);
    expect([...second.seen]).toEqual(["b", "c"]);
  });
});
