import { batchNorm, compile, dropout, layerNorm, linear, relu, residual, seq, sgd } from "../src/index.js";
import { cleanup, runPasses } from "../compiler/passes/index.js";
import { fuseNormalize } from "../compiler/passes/fuseNormalize.js";
import { fuseNormalizeBackward } from "../compiler/passes/fuseNormalizeBackward.js";
import { fuseSoftmaxCrossEntropy } from "../compiler/passes/fuseSoftmaxCrossEntropy.js";
import { size } from "../compiler/ir/types.js";
import { maxRelErr, rand, randomArray, runGraph } from "../test/helpers/run.js";
const passes = [...cleanup, { name: "n", run: fuseNormalize }, { name: "nb", run: fuseNormalizeBackward }, { name: "x", run: fuseSoftmaxCrossEntropy }];
const models = [
  seq(linear(6, 5), layerNorm(5), relu, dropout(0.1), linear(5, 5), batchNorm(5), relu, linear(5, 3)),
  seq(linear(6, 7), layerNorm(7, { affine: false }), relu, linear(7, 3)),
  seq(linear(6, 7), residual(seq(layerNorm(7), linear(7, 7), batchNorm(7), relu)), linear(7, 3)),
];
for (const [k, model] of models.entries()) for (const batch of [2, 7, 33]) {
  const net = compile(model, { inputs: 6, batch, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), optimize: false });
  for (const which of ["train", "backward", "eval"] as const) {
    const before = net.ir[which], after = runPasses(before, passes, which);
    const r = rand(k);
    const inputs: Record<string, ArrayLike<number>> = {};
    for (const i of before.inputs) {
      const n = size(before.values[i.value]!.shape);
      inputs[i.name] = i.name === "labels" ? Int32Array.from({ length: n }, (_, j) => j % 3)
        : i.name === "step" ? [2] : i.name.endsWith("running_var") ? randomArray(n, r, 0.5, 2) : randomArray(n, r);
    }
    const a = runGraph(before, inputs), c = runGraph(after, inputs);
    const worst = Math.max(...before.outputs.map((o) => maxRelErr(c[o.name]!, a[o.name]!)));
    const ops = new Set(after.nodes.map((n) => n.op));
    console.log(k, batch, which, before.nodes.length, "→", after.nodes.length, worst.toExponential(2), [...ops].filter((o) => /norm|xent|softmax|rsqrt/.test(o)).join(","));
  }
}
