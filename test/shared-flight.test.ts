import { describe, expect, it } from "vitest";
import { SharedFlight } from "../src/lib/shared-flight";

/** A call that settles when told to, counting how often it was made. */
function controlled<T>() {
  let made = 0;
  const settles: Array<(value: T) => void> = [];
  const call = () => {
    made++;
    return new Promise<T>((resolve) => settles.push(resolve));
  };
  return { call, made: () => made, settle: (k: number, value: T) => settles[k]?.(value) };
}

describe("one call in flight per key, shared without sharing a promise", () => {
  it("gives every concurrent caller of a key the one call's result", async () => {
    const flight = new SharedFlight<number>(5_000);
    const c = controlled<number>();
    const answers = Promise.all(Array.from({ length: 10 }, () => flight.run("k", c.call)));
    await new Promise((r) => setTimeout(r, 10));
    c.settle(0, 42);
    expect(await answers).toEqual(Array(10).fill(42));
    expect(c.made()).toBe(1);
  });

  it("makes a new call once the last one settled, and one call per key", async () => {
    const flight = new SharedFlight<string>(5_000);
    let made = 0;
    const call = async () => `answer-${++made}`;
    expect(await flight.run("a", call)).toBe("answer-1");
    expect(await flight.run("a", call)).toBe("answer-2");
    expect(await Promise.all([flight.run("b", call), flight.run("c", call)])).toEqual(["answer-3", "answer-4"]);
  });

  it("gives the waiters the call's failure, and asks again on the next call", async () => {
    const flight = new SharedFlight<number>(5_000);
    let made = 0;
    const failing = async () => {
      made++;
      await new Promise((r) => setTimeout(r, 10));
      throw new Error("D1 is down");
    };
    const outcomes = await Promise.allSettled([flight.run("k", failing), flight.run("k", failing)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    expect(made).toBe(1);
    await expect(flight.run("k", async () => 7)).resolves.toBe(7);
  });

  it("stops waiting for a call that never settles and makes its own", async () => {
    // A call whose request ended first may never settle: its waiters, and the key's later
    // callers, must not hang with it.
    const flight = new SharedFlight<number>(50);
    const c = controlled<number>();
    void flight.run("k", c.call);
    const late = flight.run("k", c.call);
    await new Promise((r) => setTimeout(r, 80));
    expect(c.made()).toBe(2);
    c.settle(1, 9);
    expect(await late).toBe(9);
    // The abandoned call settling late changes nothing for anyone.
    c.settle(0, 1);
    expect(await flight.run("k", async () => 3)).toBe(3);
  });
});
