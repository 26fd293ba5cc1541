/** Learning-rate schedules follow the run they are used in, and say so when a run outlives them. */
import { afterEach, describe, expect, it } from "vitest";
import { loadMnistDigits } from "../src/data/mnist.js";
import { compile, cosine, linear, seq, sgd, warmup } from "../src/index.js";
import { scheduleWarnings } from "../src/optim/schedules.js";
import { trainLoop } from "../examples/lib/train.js";

const original = scheduleWarnings.write;
afterEach(() => {
  scheduleWarnings.write = original;
});
const collect = (): string[] => {
  const seen: string[] = [];
  scheduleWarnings.write = (m) => void seen.push(m);
  return seen;
};

describe("a schedule without its own length", () => {
  it("spans the run's total steps: cosine({ from }) at step t of T is (1 + cos(πt/T))/2", () => {
    const s = cosine({ from: 1, to: 0 });
    expect(s(0, 10)).toBe(1);
    expect(s(5, 10)).toBeCloseTo(0.5, 12);
    expect(s(9, 10)).toBeCloseTo((1 + Math.cos((Math.PI * 9) / 10)) / 2, 12);
    expect(s(5, 100)).toBeCloseTo((1 + Math.cos(Math.PI / 20)) / 2, 12);
  });

  it("is refused when the run's length is not known either", () => {
    expect(() => cosine({ from: 1 })(0)).toThrow(/cosine\(\{ from: 1, to: 0 \}\) has no length: expected its steps, or the run's length from net\.setTotalSteps\(n\) before the first step/);
    expect(() => warmup({ steps: 5 }, cosine({ from: 1 }))(7)).toThrow(/has no length/);
  });

  it("after a warmup, spans what is left of the run", () => {
    const s = warmup({ steps: 10 }, cosine({ from: 1, to: 0 }));
    expect(s(0, 110)).toBeCloseTo(0.1, 12);
    expect(s(9, 110)).toBe(1);
    expect(s(10, 110)).toBe(1);
    expect(s(60, 110)).toBeCloseTo(0.5, 12);
  });

  it("gets the run's length from trainLoop: the rate falls to 0 over exactly the steps trained, with no warning", async () => {
    const warnings = collect();
    const seen: [number, number | undefined][] = [];
    const cos = cosine({ from: 0.01, to: 0 });
    const net = compile(seq(linear(784, 10)), { inputs: 784, batch: 50, seed: 0, optimizer: sgd({ lr: (t, total) => (seen.push([t, total]), cos(t, total)) }) });
    const { train } = await loadMnistDigits();
    trainLoop({ net, train, batch: 50, steps: 30, seed: 0, every: 30 });
    expect(seen).toHaveLength(30);
    expect(seen.every(([, total]) => total === 30)).toBe(true);
    expect(seen.map(([t]) => t)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(warnings).toEqual([]);
  }, 60_000);
});

describe("running past a schedule's end", () => {
  it("warns once, naming the schedule, where it ended and the run's length", () => {
    const warnings = collect();
    const s = cosine({ from: 0.05, to: 0, steps: 620 });
    for (let t = 0; t < 1000; t++) s(t, 4680);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cosine\(\{ from: 0.05, to: 0, steps: 620 \}\) ended at step 620 and this is step 620 of a 4680-step run: the rate stays at its final value from here \(leave out steps to span the whole run\)/);
  });

  it("warns for a length taken from the run too (a net trained beyond what it was told)", () => {
    const warnings = collect();
    const s = cosine({ from: 1 });
    for (let t = 0; t < 12; t++) s(t, 10);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ended at step 10 and this is step 10:/);
  });
});
