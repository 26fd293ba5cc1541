/**
 * Finite-difference gradient checks in float64: every primitive on its own, then whole models
 * (train mode: dropout masks, batch statistics) through trace + differentiate.
 */
import { describe, expect, it } from "vitest";
import { differentiate } from "../compiler/autodiff.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import { size, type V } from "../compiler/ir/types.js";
import { opNames, ops, type OpName } from "../compiler/ops/index.js";
import { batchNorm, dropout, layerNorm, linear, mse, relu, residual, seq, softmaxCrossEntropy } from "../src/index.js";
import type { LayerNode } from "../src/layers/node.js";
import { forwardGraph } from "../src/programs.js";
import { maxRelErr, rand, randomArray, runGraph } from "./helpers/run.js";

interface Case {
  /** Input shapes; `lo`/`hi` bound the random values (positive for log, sqrt, rsqrt). */
  readonly shapes: readonly (readonly number[])[];
  readonly build: (b: GraphBuilder, xs: readonly V[]) => V;
  readonly lo?: number;
  readonly hi?: number;
  /** Inputs that take no gradient (labels), given as fixed int data. */
  readonly ints?: Record<number, readonly number[]>;
}

/** Differentiable primitives (fused ops appear only after differentiation). */
const cases: Partial<Record<OpName, readonly Case[]>> = {
  neg: [{ shapes: [[3, 4]], build: (b, [x]) => b.neg(x!) }],
  exp: [{ shapes: [[3, 4]], build: (b, [x]) => b.exp(x!) }],
  log: [{ shapes: [[3, 4]], build: (b, [x]) => b.log(x!), lo: 0.5, hi: 2 }],
  relu: [{ shapes: [[3, 4]], build: (b, [x]) => b.relu(x!) }],
  step: [{ shapes: [[3, 4]], build: (b, [x]) => b.mul(x!, b.step(x!)) }],
  sqrt: [{ shapes: [[3, 4]], build: (b, [x]) => b.sqrt(x!), lo: 0.5, hi: 2 }],
  rsqrt: [{ shapes: [[3, 4]], build: (b, [x]) => b.rsqrt(x!), lo: 0.5, hi: 2 }],
  tanh: [{ shapes: [[3, 4]], build: (b, [x]) => b.tanh(x!), lo: -3, hi: 3 }],
  sigmoid: [{ shapes: [[3, 4]], build: (b, [x]) => b.sigmoid(x!), lo: -6, hi: 6 }],
  erf: [
    { shapes: [[3, 4]], build: (b, [x]) => b.erf(x!), lo: -2.5, hi: 2.5 },
    // Both branches of the float64 reference (series below 3, continued fraction above).
    { shapes: [[2, 4]], build: (b, [x]) => b.erf(x!), lo: 2.9, hi: 4.5 },
  ],
  // Near the kink: |x| ≤ 0.01 is still ≫ the difference step 1e-6.
  abs: [{ shapes: [[3, 4]], build: (b, [x]) => b.abs(x!) }, { shapes: [[3, 4]], build: (b, [x]) => b.abs(x!), lo: -0.01, hi: 0.01 }],
  sign: [{ shapes: [[3, 4]], build: (b, [x]) => b.mul(x!, b.sign(x!)) }],
  pow: [
    { shapes: [[3, 4]], build: (b, [x]) => b.pow(x!, 3) },
    { shapes: [[3, 4]], build: (b, [x]) => b.pow(x!, 2) },
    { shapes: [[3, 4]], build: (b, [x]) => b.pow(x!, -1.5), lo: 0.5, hi: 2 },
    { shapes: [[3, 4]], build: (b, [x]) => b.add(b.pow(x!, 0), x!) },
  ],
  maximum: [
    { shapes: [[3, 4], [4]], build: (b, [x, y]) => b.maximum(x!, y!) },
    // Near ties: y differs from x by 1e-3·z, still ≫ the step.
    { shapes: [[3, 4], [3, 4]], build: (b, [x, z]) => b.maximum(x!, b.add(x!, b.mul(z!, b.scalar(1e-3)))) },
  ],
  minimum: [
    { shapes: [[3, 1], [1, 4]], build: (b, [x, y]) => b.minimum(x!, y!) },
    { shapes: [[3, 4], [3, 4]], build: (b, [x, z]) => b.minimum(x!, b.add(x!, b.mul(z!, b.scalar(1e-3)))) },
  ],
  // The condition through step: no gradient to it (its finite difference is 0 off the jump).
  keep: [
    { shapes: [[3, 4], [3, 4]], build: (b, [x, c]) => b.keep(x!, b.step(c!), 1) },
    { shapes: [[3, 4], [4]], build: (b, [x, c]) => b.add(b.keep(x!, b.step(c!), 0), b.keep(b.exp(x!), b.step(c!), 1)) },
  ],
  max: [
    { shapes: [[3, 4]], build: (b, [x]) => b.max(x!, [1]) },
    { shapes: [[3, 4]], build: (b, [x]) => b.max(x!, [0], true) },
    { shapes: [[2, 3, 4]], build: (b, [x]) => b.max(x!, [0, 2]) },
    { shapes: [[2, 3, 4]], build: (b, [x]) => b.max(x!, [-2, -1]) },
    // Near ties: every element within 1e-3 of the others.
    { shapes: [[3, 5]], build: (b, [x]) => b.max(b.add(b.scalar(0.5), b.mul(x!, b.scalar(1e-3))), [1]) },
  ],
  max_mask: [{ shapes: [[3, 4]], build: (b, [x]) => b.mul(x!, b.maxMask(x!, [1])) }],
  slice: [{ shapes: [[3, 5]], build: (b, [x]) => b.slice(x!, 1, 1, 4) }, { shapes: [[4, 2, 3]], build: (b, [x]) => b.slice(x!, 0, 0, 2) }],
  pad: [{ shapes: [[3, 2]], build: (b, [x]) => b.pad(x!, 1, 1, 2) }, { shapes: [[2, 2, 3]], build: (b, [x]) => b.pad(x!, -3, 0, 1) }],
  concat: [
    { shapes: [[3, 2], [3, 4], [3, 1]], build: (b, xs) => b.concat(xs, 1) },
    { shapes: [[1, 2, 3], [2, 2, 3]], build: (b, xs) => b.concat(xs, 0) },
  ],
  add: [
    { shapes: [[3, 4], [3, 4]], build: (b, [x, y]) => b.add(x!, y!) },
    { shapes: [[3, 4], [4]], build: (b, [x, y]) => b.add(x!, y!) },
    { shapes: [[3, 1], [1, 4]], build: (b, [x, y]) => b.add(x!, y!) },
  ],
  sub: [{ shapes: [[3, 4], [4]], build: (b, [x, y]) => b.sub(x!, y!) }, { shapes: [[4], [3, 4]], build: (b, [x, y]) => b.sub(x!, y!) }],
  mul: [{ shapes: [[3, 4], [3, 4]], build: (b, [x, y]) => b.mul(x!, y!) }, { shapes: [[3, 4], []], build: (b, [x, y]) => b.mul(x!, y!) }],
  div: [{ shapes: [[3, 4], [3, 1]], build: (b, [x, y]) => b.div(x!, y!), lo: 0.5, hi: 2 }],
  constant: [{ shapes: [[3, 4]], build: (b, [x]) => b.mul(x!, b.constant(1.5, [3, 4])) }],
  sum: [
    { shapes: [[3, 4]], build: (b, [x]) => b.sum(x!, [0]) },
    { shapes: [[3, 4]], build: (b, [x]) => b.sum(x!, [1], true) },
    { shapes: [[2, 3, 4]], build: (b, [x]) => b.sum(x!, [0, 2]) },
  ],
  mean: [{ shapes: [[3, 4]], build: (b, [x]) => b.mean(x!, [1]) }, { shapes: [[3, 4]], build: (b, [x]) => b.mean(x!, [0, 1]) }],
  reshape: [{ shapes: [[3, 4]], build: (b, [x]) => b.reshape(x!, [2, 6]) }],
  tril: [[0, false], [1, false], [-1, true], [2, true]].map(([d, upper]): Case => ({
    shapes: [[2, 3, 4]],
    build: (b, [x]) => b.tril(x!, d as number, upper as boolean),
  })),
  transpose: [[1, 0], [0, 2, 1], [2, 0, 1], [0, 2, 1, 3], [3, 1, 0, 2]].map((perm): Case => ({
    shapes: [[2, 3, 4, 5].slice(0, perm.length)],
    build: (b, [x]) => b.transpose(x!, perm),
  })),
  broadcast_to: [{ shapes: [[4]], build: (b, [x]) => b.broadcastTo(x!, [3, 4]) }, { shapes: [[3, 1]], build: (b, [x]) => b.broadcastTo(x!, [3, 4]) }],
  // 2-D, and batched over one or two leading axes ([2] and [2, 3]).
  matmul: [[], [2], [2, 3]].flatMap((lead) => [false, true].flatMap((ta) => [false, true].map((tb): Case => ({
    shapes: [[...lead, ...(ta ? [5, 3] : [3, 5])], [...lead, ...(tb ? [4, 5] : [5, 4])]],
    build: (b, [x, y]) => b.matmul(x!, y!, ta, tb),
  })))),
  normalize: [{ shapes: [[4, 6]], build: (b, [x]) => b.normalize(x!, 1, 1e-5) }, { shapes: [[5, 3]], build: (b, [x]) => b.normalize(x!, 0, 1e-3) }],
  log_softmax: [{ shapes: [[3, 5]], build: (b, [x]) => b.logSoftmax(x!, 1) }, { shapes: [[3, 5]], build: (b, [x]) => b.logSoftmax(x!, 0) }],
  one_hot: [{ shapes: [[4, 3]], ints: { 1: [0, 2, 1, 2] }, build: (b, [x]) => b.mul(x!, b.oneHot(b.input("labels", "labels", { shape: [4], dtype: "i32" }), 3)) }],
  dropout_mask: [{
    shapes: [[8, 16]],
    build: (b, [x]) => b.mul(x!, b.dropoutMask(b.input("step", "scalar", { shape: [], dtype: "i32" }), [8, 16], 0.3, 7, 1)),
  }],
};

/**
 * Loss L = Σ out·R for a fixed random R, so every output element's gradient is exercised.
 * Returns the graph with loss + gradients, and the names of the float inputs.
 */
function caseGraph(c: Case): { g: Graph; names: string[] } {
  const b = new GraphBuilder();
  const xs = c.shapes.map((shape, i) => b.input(`x${i}`, "param", { shape, dtype: "f32" }));
  const out = c.build(b, xs);
  const r = b.input("r", "data", b.type(out));
  b.output("loss", "loss", b.sum(b.mul(out, r), b.type(out).shape.map((_d, i) => i)));
  const names = c.shapes.map((_s, i) => `x${i}`);
  return { g: differentiate(b.build(), "loss", names), names };
}

function checkGradients(g: Graph, inputs: Record<string, ArrayLike<number>>, wrt: readonly string[], eps = 1e-6): number {
  const analytic = runGraph(g, inputs);
  let worst = 0;
  for (const name of wrt) {
    const x = Float64Array.from(inputs[name]!);
    const numeric = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i]!;
      x[i] = keep + eps;
      const up = runGraph(g, { ...inputs, [name]: x }).loss![0]!;
      x[i] = keep - eps;
      const down = runGraph(g, { ...inputs, [name]: x }).loss![0]!;
      x[i] = keep;
      numeric[i] = (up - down) / (2 * eps);
    }
    worst = Math.max(worst, maxRelErr(analytic[`${name}.grad`]!, numeric, 1e-2));
  }
  return worst;
}

describe("finite-difference gradients of every primitive (float64)", () => {
  it("has a case for every op in the registry", () => {
    // detach's gradient is 0 by definition, not its derivative: test/detach-bce.test.ts checks it.
    expect(opNames.filter((op) => ops[op].vjp !== null && op !== "detach" && !(op in cases))).toEqual([]);
  });
  for (const op of opNames) {
    (cases[op] ?? []).forEach((c, k) => {
      it(`${op} #${k}`, () => {
        const r = rand(17 + k);
        const { g, names } = caseGraph(c);
        const inputs: Record<string, ArrayLike<number>> = {};
        c.shapes.forEach((shape, i) => {
          let v = randomArray(size(shape), r, c.lo ?? -1, c.hi ?? 1);
          // Keep relu/step inputs away from the kink at 0, where the derivative jumps.
          if (op === "relu" || op === "step") v = v.map((t) => (Math.abs(t) < 0.1 ? t + 0.3 : t));
          inputs[`x${i}`] = v;
        });
        const rIn = g.inputs.find((i) => i.name === "r")!;
        inputs.r = randomArray(size(g.values[rIn.value]!.shape), r);
        for (const [i, v] of Object.entries(c.ints ?? {})) inputs[i === "1" ? "labels" : i] = v;
        if (g.inputs.some((i) => i.name === "step")) inputs.step = [3];
        expect(checkGradients(g, inputs, names)).toBeLessThan(1e-6);
      });
    });
  }
});

describe("finite-difference gradients of whole models in train mode (float64)", () => {
  const models: [string, LayerNode, "ce" | "mse"][] = [
    ["mlp", seq(linear(5, 7), relu, linear(7, 3)), "ce"],
    ["layerNorm + dropout", seq(linear(5, 6), layerNorm(6), relu, dropout(0.3), linear(6, 3)), "ce"],
    ["layerNorm without affine", seq(linear(5, 6), layerNorm(6, { affine: false }), linear(6, 3)), "mse"],
    ["batchNorm in a residual", seq(linear(5, 6), residual(seq(linear(6, 6), batchNorm(6), relu)), linear(6, 3)), "ce"],
    ["nested seq, no bias", seq(dropout(0.2), seq(linear(5, 4, { bias: false }), relu), residual(linear(4, 4)), linear(4, 2)), "mse"],
  ];
  for (const [name, model, lossKind] of models) {
    it(name, () => {
      const batch = 4;
      const { graph, ctx } = forwardGraph(model, lossKind === "ce" ? softmaxCrossEntropy() : mse(), { inputs: 5, batch, seed: 3 });
      const params = ctx.params.map((p) => p.name);
      const g = differentiate(graph, "loss", params);
      const r = rand(99);
      const inputs: Record<string, ArrayLike<number>> = {};
      for (const i of g.inputs) {
        const n = size(g.values[i.value]!.shape);
        if (i.name === "labels") inputs[i.name] = lossKind === "ce" ? Int32Array.from({ length: n }, () => Math.floor(r() * 2)) : randomArray(n, r);
        else if (i.name === "step") inputs[i.name] = [5];
        else if (i.name.endsWith("running_var")) inputs[i.name] = randomArray(n, r, 0.5, 1.5);
        else inputs[i.name] = randomArray(n, r);
      }
      expect(checkGradients(g, inputs, params)).toBeLessThan(1e-6);
    });
  }
});
