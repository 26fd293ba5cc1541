/**
 * Float targets of every loss but softmaxCrossEntropy are copied into the program and checked
 * there in WebAssembly (allFinite, allUnit), the loss's JavaScript check running only to name
 * what is wrong. These tests put each kind of bad value in the SIMD body and in the scalar tail
 * of targets of odd length, and edge values that must pass.
 */
import { describe, expect, it } from "vitest";
import { binaryCrossEntropy, compile, huber, InputError, KilnError, l1, linear, lossFn, mse, seq, sgd, type Loss } from "../src/index.js";

const BATCH = 37, IN = 3, OUT = 5; // 185 targets: 46 vectors of 4 and a tail of 1
const x = Float32Array.from({ length: BATCH * IN }, (_, i) => Math.sin(i));
const unitTargets = () => Float32Array.from({ length: BATCH * OUT }, (_, i) => (i % 7) / 6);

function thrown(f: () => unknown): KilnError {
  try { f(); } catch (e) { if (e instanceof KilnError) return e; throw e; }
  throw new Error("expected a KilnError");
}

const net = (loss: Loss, optimize = true) =>
  compile(seq(linear(IN, OUT)), { inputs: IN, batch: BATCH, seed: 3, loss, optimizer: sgd({ lr: 0.1 }), optimize, threads: 1 });

const finiteLosses: [string, () => Loss][] = [
  ["mse", () => mse()], ["l1", () => l1()], ["huber", () => huber({ delta: 0.5 })],
  ["lossFn", () => lossFn("relsq", (o, t) => o.sub(t).square().div(t.abs().add(1)).mean())],
];
const POSITIONS = [0, 5, 64, 150, 183, 184];

describe("float targets checked in WebAssembly", () => {
  for (const [name, loss] of finiteLosses) {
    it(`${name}: NaN and ±∞ anywhere are refused by index, changing nothing; large finite values pass`, () => {
      const n = net(loss());
      const before = Float32Array.from(n.params["0.weight"]!);
      for (const i of POSITIONS) {
        for (const v of [NaN, Infinity, -Infinity]) {
          const bad = unitTargets(); bad[i] = v;
          const e = thrown(() => n.trainStep(x, bad));
          expect(e).toBeInstanceOf(InputError);
          expect(e.message).toBe(`targets[${i}]: expected a finite number, got ${v}`);
          expect(thrown(() => n.gradients(x, bad)).message).toBe(e.message);
        }
      }
      expect(n.params["0.weight"]).toEqual(before);
      expect(n.step).toBe(0);
      const big = unitTargets(); big[184] = 3e38; big[0] = -3e38;
      expect(() => n.gradients(x, big)).not.toThrow();
      // Valid targets: the same loss as the reference interpreter's (which checks in JavaScript).
      const t = unitTargets();
      expect(n.trainStep(x, t)).toBeCloseTo(net(loss(), false).trainStep(x, t), 5);
    });
  }

  for (const logits of [true, false]) {
    it(`binaryCrossEntropy(logits ${logits}): values outside [0, 1] by one ulp, NaN and ±∞ are refused; 0, −0, 1 and the least subnormal pass`, () => {
      const n = net(binaryCrossEntropy({ logits }));
      const before = Float32Array.from(n.params["0.weight"]!);
      const justAbove1 = 1 + 2 ** -23, leastNeg = -(2 ** -149);
      for (const i of POSITIONS) {
        for (const v of [justAbove1, leastNeg, -0.0625, 1.5, NaN, Infinity, -Infinity, -3e38]) {
          const bad = unitTargets(); bad[i] = v;
          const e = thrown(() => n.trainStep(x, bad));
          expect(e).toBeInstanceOf(InputError);
          expect(e.message).toBe(`targets[${i}]: expected a probability in [0, 1], got ${Math.fround(v)}`);
        }
      }
      expect(n.params["0.weight"]).toEqual(before);
      expect(n.step).toBe(0);
      const edge = unitTargets();
      edge[0] = 0; edge[1] = -0; edge[64] = 1; edge[150] = 2 ** -149; edge[184] = 1;
      if (!logits) { n.params["0.weight"]!.fill(0); n.params["0.bias"]!.fill(0); } // outputs 0: log clamps, still finite
      const ref = net(binaryCrossEntropy({ logits }), false);
      ref.params["0.weight"]!.set(n.params["0.weight"]!); ref.params["0.bias"]!.set(n.params["0.bias"]!);
      expect(n.gradients(x, edge).loss).toBeCloseTo(ref.gradients(x, edge).loss, 5);
    });
  }
});
