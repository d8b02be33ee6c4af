import { describe, expect, it } from "vitest";
import { makeInsight } from "../test/fixtures";
import { addToasts, dismissToast } from "./toasts";

const mk = (id: string) => makeInsight({ alert_id: id });

describe("toasts", () => {
  it("puts new alerts on top of the visible ones", () => {
    const one = addToasts([], [mk("a")]);
    const two = addToasts(one, [mk("b")]);
    expect(two.map((t) => t.id)).toEqual(["b", "a"]);
  });

  it("summarises a burst that does not fit in the last slot", () => {
    const burst = addToasts([], ["a", "b", "c", "d", "e", "f"].map(mk), 4);
    expect(burst.map((t) => t.id).slice(0, 3)).toEqual(["a", "b", "c"]);
    expect(burst).toHaveLength(4);
    expect(burst[3]).toMatchObject({ insight: null, overflow: 3 });
  });

  it("carries an earlier overflow count forward", () => {
    const burst = addToasts([], ["a", "b", "c", "d", "e"].map(mk), 4);
    const next = addToasts(burst, [mk("z")], 4);
    expect(next.map((t) => t.id).slice(0, 3)).toEqual(["z", "a", "b"]);
    expect(next[3]).toMatchObject({ insight: null, overflow: 2 + 1 });
  });

  it("dismisses by id", () => {
    expect(dismissToast(addToasts([], [mk("a"), mk("b")]), "a").map((t) => t.id)).toEqual(["b"]);
  });
});
