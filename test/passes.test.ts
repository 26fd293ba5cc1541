/** Golden IR in, IR out for each cleanup pass, and agreement of the cleaned programs with the originals. */
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import { printIR } from "../compiler/ir/print.js";
import { cse } from "../compiler/passes/cse.js";
import { dce } from "../compiler/passes/dce.js";
import { cleanup, runPasses } from "../compiler/passes/index.js";
import { simplify } from "../compiler/passes/simplify.js";
import { batchNorm, compile, dropout, layerNorm, linear, relu, residual, seq, sgd } from "../src/index.js";
import { maxRelErr, rand, randomArray, runGraph } from "./helpers/run.js";
import { size } from "../compiler/ir/types.js";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

describe("simplify", () => {
  it("folds constants, drops identities and double negations", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(2, 3));
    const y = b.mul(b.mul(b.neg(b.neg(x)), b.scalar(2)), b.scalar(3));
    const z = b.add(b.mul(y, b.mul(b.scalar(0.5), b.scalar(2))), b.scalar(0));
    b.output("z", "logits", b.sub(z, b.neg(b.reshape(b.reshape(x, [3, 2]), [2, 3]))));
    const g = b.build();
    expect(printIR(g)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,3] .
        let a:f32[2,3] = neg x
            b:f32[2,3] = neg a
            c:f32[2,3] = mul b 2.0
            d:f32[2,3] = mul c 3.0
            e:f32[] = mul 0.5 2.0
            f:f32[2,3] = mul d e
            g:f32[2,3] = add f 0.0
            h:f32[3,2] = reshape[shape=[3,2]] x
            i:f32[2,3] = reshape[shape=[2,3]] h
            j:f32[2,3] = neg i
            k:f32[2,3] = sub g j
        in (z=k) }"
    `);
    expect(printIR(simplify(g))).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,3] .
        let a:f32[2,3] = mul x 6.0
            b:f32[2,3] = add a x
        in (z=b) }"
    `);
  });

  it("keeps a broadcast that changes the shape", () => {
    const b = new GraphBuilder();
    const s = b.input("s", "data", f32());
    b.output("y", "logits", b.mul(s, b.constant(1, [2, 2])));
    expect(printIR(simplify(b.build()))).toMatchInlineSnapshot(`
      "{ lambda s:f32[] .
        let a:f32[2,2] = constant[value=1 shape=[2,2]]
            b:f32[2,2] = mul s a
        in (y=b) }"
    `);
  });
});

describe("cse", () => {
  it("merges identical nodes, including whole identical subtrees", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(4, 3));
    const m1 = b.mean(x, [1], true), m2 = b.mean(x, [1], true), m3 = b.mean(x, [0], true);
    b.output("y", "logits", b.add(b.sub(x, m1), b.sub(x, m2)));
    b.output("z", "logits", m3);
    expect(printIR(cse(b.build()))).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,3] .
        let a:f32[4,1] = mean[axes=[1] keepdims=true] x
            b:f32[1,3] = mean[axes=[0] keepdims=true] x
            c:f32[4,3] = sub x a
            d:f32[4,3] = add c c
        in (y=d, z=b) }"
    `);
  });
});

describe("dce", () => {
  it("drops what no output needs and renumbers densely", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(2));
    b.exp(x);
    b.output("y", "logits", b.neg(x));
    const g = dce(b.build());
    expect(printIR(g)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2] .
        let a:f32[2] = neg x
        in (y=a) }"
    `);
    expect(g.values.length).toBe(2);
  });
});

describe("cleaned programs compute the same as the originals", () => {
  const models = [
    seq(linear(5, 6), layerNorm(6), relu, dropout(0.3), linear(6, 3)),
    seq(linear(5, 6), residual(seq(linear(6, 6), batchNorm(6), relu)), linear(6, 3)),
  ];
  models.forEach((model, k) => {
    it(`model ${k}: every output of the train graph agrees`, () => {
      const net = compile(model, { inputs: 5, batch: 4, optimizer: sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 }), optimize: false });
      const before = net.ir.train, after = runPasses(before, cleanup, "train");
      expect(after.nodes.length).toBeLessThan(before.nodes.length);
      const r = rand(k);
      const inputs: Record<string, ArrayLike<number>> = {};
      for (const i of before.inputs) {
        const n = size(before.values[i.value]!.shape);
        inputs[i.name] = i.name === "labels" ? Int32Array.from({ length: n }, (_, j) => j % 3)
          : i.name === "step" ? [2] : i.name.endsWith("running_var") ? randomArray(n, r, 0.5, 2) : randomArray(n, r);
      }
      const a = runGraph(before, inputs), c = runGraph(after, inputs);
      for (const o of before.outputs) expect(maxRelErr(c[o.name]!, a[o.name]!), o.name).toBeLessThan(1e-12);
    });
  });
});

describe("foldBatchNorm (eval)", () => {
  /** Random values for an eval graph's inputs (variances positive). */
  const evalInputs = (g: Graph, seed: number): Record<string, ArrayLike<number>> => {
    const r = rand(seed);
    return Object.fromEntries(g.inputs.map((i) => {
      const n = size(g.values[i.value]!.shape);
      return [i.name, i.name.endsWith("running_var") ? randomArray(n, r, 0.2, 3) : randomArray(n, r)];
    }));
  };

  it("folds a batchNorm on running statistics into the preceding linear layer", async () => {
    const { foldBatchNorm } = await import("../compiler/passes/foldBatchNorm.js");
    const model = seq(linear(3, 4), batchNorm(4), relu, linear(4, 4, { bias: false }), batchNorm(4), linear(4, 2));
    const ref = compile(model, { inputs: 3, batch: 2, optimize: false });
    const folded = foldBatchNorm(runPasses(ref.ir.eval, cleanup, "eval"));
    expect(printIR(folded)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,3] 0.weight:f32[4,3] 0.bias:f32[4] 1.weight:f32[4] 1.bias:f32[4] 1.running_mean:f32[4] 1.running_var:f32[4] 3.weight:f32[4,4] 4.weight:f32[4] 4.bias:f32[4] 4.running_mean:f32[4] 4.running_var:f32[4] 5.weight:f32[2,4] 5.bias:f32[2] .
        let a:f32[4] = add 1.running_var 0.00001
            b:f32[4] = rsqrt a
            c:f32[4] = mul b 1.weight
            d:f32[4,1] = reshape[shape=[4,1]] c
            e:f32[4,3] = mul 0.weight d
            f:f32[4] = sub 0.bias 1.running_mean
            g:f32[2,4] = matmul[transA=false transB=true] x e
            h:f32[4] = mul f c
            i:f32[4] = add h 1.bias
            j:f32[2,4] = add g i
            k:f32[2,4] = relu j
            l:f32[4] = add 4.running_var 0.00001
            m:f32[4] = rsqrt l
            n:f32[4] = mul m 4.weight
            o:f32[4,1] = reshape[shape=[4,1]] n
            p:f32[4,4] = mul 3.weight o
            q:f32[4] = neg 4.running_mean
            r:f32[2,4] = matmul[transA=false transB=true] k p
            s:f32[4] = mul q n
            t:f32[4] = add s 4.bias
            u:f32[2,4] = add r t
            v:f32[2,2] = matmul[transA=false transB=true] u 5.weight
            w:f32[2,2] = add v 5.bias
        in (logits=w) }"
    `);
    const inputs = evalInputs(ref.ir.eval, 5);
    expect(maxRelErr(runGraph(folded, inputs).logits!, runGraph(ref.ir.eval, inputs).logits!)).toBeLessThan(1e-12);
    // And through compile(): no batch-sized normalization arithmetic is left in the eval program.
    const net = compile(model, { inputs: 3, batch: 2 });
    expect(printIR(net.ir.eval)).not.toMatch(/rsqrt[^\n]*\[2,4\]|f32\[2,4\] = fused_elementwise/);
  });

  it("makes a batchNorm after anything else one multiply-add per element: h·s + (β − μ·s)", async () => {
    const { foldBatchNorm } = await import("../compiler/passes/foldBatchNorm.js");
    // On the data, and after an activation.
    const model = seq(batchNorm(5), linear(5, 4), relu, batchNorm(4), linear(4, 2));
    const ref = compile(model, { inputs: 5, batch: 3, optimize: false });
    const folded = foldBatchNorm(runPasses(ref.ir.eval, cleanup, "eval"));
    const text = printIR(folded);
    // Per batch element, one product and one sum per batchNorm; the rest is per column.
    expect(text.match(/f32\[3,[45]\] = (mul|add|sub|rsqrt)/g)).toEqual(["f32[3,5] = mul", "f32[3,5] = add", "f32[3,4] = add", "f32[3,4] = mul", "f32[3,4] = add"]);
    const inputs = evalInputs(ref.ir.eval, 6);
    expect(maxRelErr(runGraph(folded, inputs).logits!, runGraph(ref.ir.eval, inputs).logits!)).toBeLessThan(1e-12);
    // Through compile(), in float32: the optimized eval program within a few roundings of the reference.
    const fast = compile(model, { inputs: 5, batch: 3, seed: 2 }), slow = compile(model, { inputs: 5, batch: 3, seed: 2, optimize: false });
    for (const net of [fast, slow]) for (const [k, v] of Object.entries(inputs)) if (k in net.params || k in net.state) (net.params[k] ?? net.state[k] as Float32Array).set(v);
    const x = Float32Array.from(inputs.x!);
    expect(maxRelErr(fast.predict(x), slow.predict(x), 1)).toBeLessThan(1e-5);
  });
});

describe("simplify folds scalar factors only into a normal float32", () => {
  it("(x·c₁)·c₂ keeps the float32 result when c₁c₂ would overflow or flush to 0, and folds otherwise", () => {
    const x = Float32Array.of(0, 1, -1, 1e30, 1e-30, 3);
    for (const [c1, c2, folds] of [[1e30, 1e30, false], [1e-30, 1e-30, false], [1e20, -1e20, false], [2, 0.25, true], [1e-20, 1e20, true]] as const) {
      const b = new GraphBuilder();
      const v = b.input("x", "data", { shape: [6], dtype: "f32" });
      b.output("y", "logits", b.mul(b.mul(v, b.scalar(c1)), b.scalar(c2)));
      const g = b.build();
      const want = Array.from(x, (a) => Math.fround(Math.fround(a * Math.fround(c1)) * Math.fround(c2)));
      const got = runGraph(simplify(g), { x }, "f32")["y"]!;
      expect(Array.from(got), `${c1}·${c2}`).toEqual(want.map((w, i) => (folds ? Math.fround(x[i]! * Math.fround(c1 * c2)) : w)));
      expect(simplify(g).nodes.filter((n) => n.op === "mul").length, `${c1}·${c2}`).toBe(folds ? 1 : 2);
    }
  });
});
