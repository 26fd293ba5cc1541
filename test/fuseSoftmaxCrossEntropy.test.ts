/** Golden IR in, IR out for the softmax cross-entropy fusion, and agreement in float64. */
import { describe, expect, it } from "vitest";
import { differentiate } from "../compiler/autodiff.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import { printIR } from "../compiler/ir/print.js";
import { fuseSoftmaxCrossEntropy } from "../compiler/passes/fuseSoftmaxCrossEntropy.js";
import { cleanup, runPasses } from "../compiler/passes/index.js";
import { softmaxCrossEntropy } from "../src/index.js";
import { maxRelErr, rand, randomArray, runGraph } from "./helpers/run.js";

/** logits z [4,3] (an input taking gradients), the library's loss on labels, cleaned. */
function lossGraph(): Graph {
  const b = new GraphBuilder();
  const z = b.input("z", "param", { shape: [4, 3], dtype: "f32" });
  const labels = b.input("labels", "labels", { shape: [4], dtype: "i32" });
  b.output("loss", "loss", softmaxCrossEntropy().emit(b, z, labels));
  return b.build();
}

describe("fuseSoftmaxCrossEntropy", () => {
  it("loss and the gradient of the logits become one softmax_xent", () => {
    const g = runPasses(differentiate(lossGraph(), "loss", ["z"]), cleanup, "test");
    expect(printIR(g)).toMatchInlineSnapshot(`
      "{ lambda z:f32[4,3] labels:i32[4] .
        let a:f32[4,3] = log_softmax[axis=1] z
            b:f32[4,3] = one_hot[classes=3] labels
            c:f32[4,3] = mul a b
            d:f32[] = sum[axes=[0,1] keepdims=false] c
            e:f32[] = mul d -0.25
            f:f32[4,3] = mul -0.25 b
            g:f32[4,3] = exp a
            h:f32[4,1] = sum[axes=[1] keepdims=true] f
            i:f32[4,3] = mul g h
            j:f32[4,3] = sub f i
        in (loss=e, z.grad=j) }"
    `);
    const fused = fuseSoftmaxCrossEntropy(g);
    expect(printIR(fused)).toMatchInlineSnapshot(`
      "{ lambda z:f32[4,3] labels:i32[4] .
        let a:f32[] b:f32[4,3] = softmax_xent[scale=-0.25 gradScale=-0.25] z labels
        in (loss=a, z.grad=b) }"
    `);
    // Labels in range, and one out of range (the one-hot row is then 0, so is its gradient).
    for (const labels of [[0, 2, 1, 2], [1, 0, 7, 2]]) {
      const r = rand(labels[2]!);
      const inputs = { z: randomArray(12, r, -30, 30), labels };
      const a = runGraph(g, inputs), c = runGraph(fused, inputs);
      expect(maxRelErr(c.loss!, a.loss!)).toBeLessThan(1e-13);
      expect(maxRelErr(c["z.grad"]!, a["z.grad"]!)).toBeLessThan(1e-13);
    }
  });

  it("leaves a loss without its gradient alone (the eval and forward programs)", () => {
    const g = runPasses(lossGraph(), cleanup, "test");
    expect(printIR(fuseSoftmaxCrossEntropy(g))).toBe(printIR(g));
  });

  it("leaves log_softmax alone when the cotangent is not a scaled one-hot", () => {
    const b = new GraphBuilder();
    const z = b.input("z", "param", { shape: [4, 3], dtype: "f32" }), t = b.input("t", "data", { shape: [4, 3], dtype: "f32" });
    b.output("loss", "loss", b.sum(b.mul(b.logSoftmax(z, 1), t), [0, 1]));
    const g = runPasses(differentiate(b.build(), "loss", ["z"]), cleanup, "test");
    expect(printIR(fuseSoftmaxCrossEntropy(g))).toBe(printIR(g));
  });
});
