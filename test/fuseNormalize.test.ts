/** Golden IR in, IR out for the normalization fusions (forward + statistics, backward). */
import { describe, expect, it } from "vitest";
import { differentiate } from "../compiler/autodiff.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import { printIR } from "../compiler/ir/print.js";
import { size, type V } from "../compiler/ir/types.js";
import { fuseNormalize } from "../compiler/passes/fuseNormalize.js";
import { fuseNormalizeBackward } from "../compiler/passes/fuseNormalizeBackward.js";
import { cleanup, runPasses } from "../compiler/passes/index.js";
import { simplify } from "../compiler/passes/simplify.js";
import { batchNorm, mse, seq } from "../src/index.js";
import { forwardGraph } from "../src/programs.js";
import { maxRelErr, rand, randomArray, runGraph } from "./helpers/run.js";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });
const clean = (g: Graph) => runPasses(g, cleanup, "test");
/** The simplify the pipeline runs after each fusion (the passes leave reshape chains to it). */
const tidy = simplify;

/** loss = Σ out·r over a graph made by `build`, differentiated w.r.t. the param inputs, cleaned. */
function withGradients(build: (b: GraphBuilder) => V, params: readonly string[]): Graph {
  const b = new GraphBuilder();
  const out = build(b);
  const r = b.input("r", "data", b.type(out));
  b.output("loss", "loss", b.sum(b.mul(out, r), [0, 1]));
  return clean(differentiate(b.build(), "loss", params));
}

/** The fused graph computes every output of the original (float64, random inputs). */
function expectSameOutputs(before: Graph, after: Graph, seed = 1): void {
  const r = rand(seed);
  const inputs: Record<string, ArrayLike<number>> = {};
  for (const i of before.inputs) {
    const n = size(before.values[i.value]!.shape);
    inputs[i.name] = i.name.endsWith("running_var") ? randomArray(n, r, 0.5, 2) : randomArray(n, r, -2, 3);
  }
  const a = runGraph(before, inputs), c = runGraph(after, inputs);
  for (const o of before.outputs) expect(maxRelErr(c[o.name]!, a[o.name]!), o.name).toBeLessThan(1e-12);
}

describe("fuseNormalize + fuseNormalizeBackward", () => {
  it("layerNorm with affine: one forward kernel, one backward kernel for dx, dγ, dβ", () => {
    const g = withGradients((b) => {
      const x = b.input("x", "param", f32(3, 4)), w = b.input("w", "param", f32(4)), c = b.input("c", "param", f32(4));
      return b.add(b.mul(b.normalize(x, 1, 1e-5), w), c);
    }, ["x", "w", "c"]);
    expect(printIR(g)).toMatchInlineSnapshot(`
      "{ lambda x:f32[3,4] w:f32[4] c:f32[4] r:f32[3,4] .
        let a:f32[3,4] = normalize[axis=1 eps=0.00001] x
            b:f32[3,4] = mul a w
            d:f32[3,4] = add b c
            e:f32[3,4] = mul d r
            f:f32[] = sum[axes=[0,1] keepdims=false] e
            g:f32[3,4] = mul 1.0 r
            h:f32[1,4] = sum[axes=[0] keepdims=true] g
            i:f32[4] = reshape[shape=[4]] h
            j:f32[3,4] = mul g w
            k:f32[3,4] = mul g a
            l:f32[1,4] = sum[axes=[0] keepdims=true] k
            m:f32[4] = reshape[shape=[4]] l
            n:f32[3,1] = mean[axes=[1] keepdims=true] x
            o:f32[3,4] = sub x n
            p:f32[3,4] = mul o o
            q:f32[3,1] = mean[axes=[1] keepdims=true] p
            s:f32[3,1] = add q 0.00001
            t:f32[3,1] = rsqrt s
            u:f32[3,1] = mean[axes=[1] keepdims=true] j
            v:f32[3,4] = sub j u
            y:f32[3,4] = mul j a
            z:f32[3,1] = mean[axes=[1] keepdims=true] y
            ba:f32[3,4] = mul a z
            bb:f32[3,4] = sub v ba
            bc:f32[3,4] = mul bb t
        in (loss=f, x.grad=bc, w.grad=m, c.grad=i) }"
    `);
    const fwd = fuseNormalize(g);
    expect(printIR(fwd)).toMatchInlineSnapshot(`
      "{ lambda x:f32[3,4] w:f32[4] c:f32[4] r:f32[3,4] .
        let a:f32[3,4] b:f32[3,4] d:f32[3,1] e:f32[3,1] f:f32[3,1] = norm_forward[axis=1 eps=0.00001 affine=true xhat=true y=true] x w c
            g:f32[3,4] = mul a r
            h:f32[] = sum[axes=[0,1] keepdims=false] g
            i:f32[3,4] = mul 1.0 r
            j:f32[1,4] = sum[axes=[0] keepdims=true] i
            k:f32[4] = reshape[shape=[4]] j
            l:f32[3,4] = mul i w
            m:f32[3,4] = mul i b
            n:f32[1,4] = sum[axes=[0] keepdims=true] m
            o:f32[4] = reshape[shape=[4]] n
            p:f32[3,1] = mean[axes=[1] keepdims=true] l
            q:f32[3,4] = sub l p
            s:f32[3,4] = mul l b
            t:f32[3,1] = mean[axes=[1] keepdims=true] s
            u:f32[3,4] = mul b t
            v:f32[3,4] = sub q u
            y:f32[3,4] = mul v e
        in (loss=h, x.grad=y, w.grad=o, c.grad=k) }"
    `);
    const both = fuseNormalizeBackward(tidy(fwd));
    expect(printIR(both)).toMatchInlineSnapshot(`
      "{ lambda x:f32[3,4] w:f32[4] c:f32[4] r:f32[3,4] .
        let a:f32[3,4] b:f32[3,1] d:f32[3,1] e:f32[3,1] = norm_forward[axis=1 eps=0.00001 affine=true xhat=false y=true] x w c
            f:f32[3,4] = mul a r
            g:f32[] = sum[axes=[0,1] keepdims=false] f
            h:f32[3,4] i:f32[4] j:f32[4] = norm_backward[axis=1 affine=true] r x b d w
            k:f32[1,4] = reshape[shape=[1,4]] i
            l:f32[1,4] = reshape[shape=[1,4]] j
            m:f32[4] = reshape[shape=[4]] l
            n:f32[4] = reshape[shape=[4]] k
        in (loss=g, x.grad=h, w.grad=n, c.grad=m) }"
    `);
    expectSameOutputs(g, both);
  });

  it("layerNorm without affine", () => {
    const g = withGradients((b) => b.normalize(b.input("x", "param", f32(3, 4)), 1, 1e-3), ["x"]);
    const fused = fuseNormalizeBackward(tidy(fuseNormalize(g)));
    expect(printIR(fused)).toMatchInlineSnapshot(`
      "{ lambda x:f32[3,4] r:f32[3,4] .
        let a:f32[3,4] b:f32[3,1] c:f32[3,1] d:f32[3,1] = norm_forward[axis=1 eps=0.001 affine=false xhat=false y=true] x
            e:f32[3,4] = mul a r
            f:f32[] = sum[axes=[0,1] keepdims=false] e
            g:f32[3,4] = norm_backward[axis=1 affine=false] r x b c
        in (loss=f, x.grad=g) }"
    `);
    expectSameOutputs(g, fused);
  });

  it("batchNorm in training: the running statistics read the kernel's mean and variance", () => {
    const { graph, ctx } = forwardGraph(seq(batchNorm(3)), mse(), { inputs: 3, batch: 4, seed: 0 });
    const g = clean(differentiate(graph, "loss", ["x", ...ctx.params.map((p) => p.name)]));
    expect(printIR(g)).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,3] 0.weight:f32[3] 0.bias:f32[3] 0.running_mean:f32[3] 0.running_var:f32[3] labels:f32[4,3] .
        let a:f32[3] = mean[axes=[0] keepdims=false] x
            b:f32[4,3] = sub x a
            c:f32[4,3] = mul b b
            d:f32[3] = mean[axes=[0] keepdims=false] c
            e:f32[3] = mul 0.running_mean 0.9
            f:f32[3] = mul a 0.1
            g:f32[3] = add e f
            h:f32[3] = mul 0.running_var 0.9
            i:f32[3] = mul d 0.13333333333333333
            j:f32[3] = add h i
            k:f32[4,3] = normalize[axis=0 eps=0.00001] x
            l:f32[4,3] = mul k 0.weight
            m:f32[4,3] = add l 0.bias
            n:f32[4,3] = sub m labels
            o:f32[4,3] = mul n n
            p:f32[] = mean[axes=[0,1] keepdims=false] o
            q:f32[4,3] = mul 0.08333333333333333 n
            r:f32[4,3] = add q q
            s:f32[1,3] = sum[axes=[0] keepdims=true] r
            t:f32[3] = reshape[shape=[3]] s
            u:f32[4,3] = mul r 0.weight
            v:f32[4,3] = mul r k
            w:f32[1,3] = sum[axes=[0] keepdims=true] v
            y:f32[3] = reshape[shape=[3]] w
            z:f32[1,3] = mean[axes=[0] keepdims=true] x
            ba:f32[4,3] = sub x z
            bb:f32[4,3] = mul ba ba
            bc:f32[1,3] = mean[axes=[0] keepdims=true] bb
            bd:f32[1,3] = add bc 0.00001
            be:f32[1,3] = rsqrt bd
            bf:f32[1,3] = mean[axes=[0] keepdims=true] u
            bg:f32[4,3] = sub u bf
            bh:f32[4,3] = mul u k
            bi:f32[1,3] = mean[axes=[0] keepdims=true] bh
            bj:f32[4,3] = mul k bi
            bk:f32[4,3] = sub bg bj
            bl:f32[4,3] = mul bk be
        in (0.running_mean=g, 0.running_var=j, loss=p, logits=m, x.grad=bl, 0.weight.grad=y, 0.bias.grad=t) }"
    `);
    const fused = fuseNormalizeBackward(tidy(fuseNormalize(g)));
    expect(printIR(fused)).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,3] 0.weight:f32[3] 0.bias:f32[3] 0.running_mean:f32[3] 0.running_var:f32[3] labels:f32[4,3] .
        let a:f32[4,3] b:f32[1,3] c:f32[1,3] d:f32[1,3] = norm_forward[axis=0 eps=0.00001 affine=true xhat=false y=true] x 0.weight 0.bias
            e:f32[3] = reshape[shape=[3]] b
            f:f32[3] = reshape[shape=[3]] d
            g:f32[3] = mul 0.running_mean 0.9
            h:f32[3] = mul e 0.1
            i:f32[3] = add g h
            j:f32[3] = mul 0.running_var 0.9
            k:f32[3] = mul f 0.13333333333333333
            l:f32[3] = add j k
            m:f32[4,3] = sub a labels
            n:f32[4,3] = mul m m
            o:f32[] = mean[axes=[0,1] keepdims=false] n
            p:f32[4,3] = mul 0.08333333333333333 m
            q:f32[4,3] = add p p
            r:f32[4,3] s:f32[3] t:f32[3] = norm_backward[axis=0 affine=true] q x b c 0.weight
            u:f32[1,3] = reshape[shape=[1,3]] s
            v:f32[1,3] = reshape[shape=[1,3]] t
            w:f32[3] = reshape[shape=[3]] v
            y:f32[3] = reshape[shape=[3]] u
        in (0.running_mean=i, 0.running_var=l, loss=o, logits=a, x.grad=r, 0.weight.grad=y, 0.bias.grad=w) }"
    `);
    expectSameOutputs(g, fused);
  });

  it("keeps x̂ as an output while something else reads it", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "param", f32(3, 4)), w = b.input("w", "param", f32(4)), c = b.input("c", "param", f32(4));
    const xhat = b.normalize(x, 1, 1e-5);
    const out = b.add(b.mul(xhat, w), c);
    b.output("loss", "loss", b.sum(b.mul(out, out), [0, 1]));
    b.output("xhat", "probe", xhat);
    const g = clean(differentiate(b.build(), "loss", ["x", "w", "c"]));
    const fused = fuseNormalizeBackward(tidy(fuseNormalize(g)));
    expect(printIR(fused)).toMatch(/norm_forward\[axis=1 eps=0.00001 affine=true xhat=true y=true\]/);
    expect(printIR(fused)).toMatch(/norm_backward\[axis=1 affine=true\]/);
    expectSameOutputs(g, fused);
  });

  it("does not fold an affine whose product is read elsewhere", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(2, 3)), w = b.input("w", "param", f32(3)), c = b.input("c", "param", f32(3));
    const m = b.mul(b.normalize(x, 0, 1e-5), w);
    b.output("y", "logits", b.add(m, c));
    b.output("m", "probe", m);
    const g = b.build();
    expect(printIR(fuseNormalize(g))).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,3] w:f32[3] c:f32[3] .
        let a:f32[2,3] b:f32[1,3] d:f32[1,3] e:f32[1,3] = norm_forward[axis=0 eps=0.00001 affine=false xhat=false y=true] x
            f:f32[2,3] = mul a w
            g:f32[2,3] = add f c
        in (y=g, m=f) }"
    `);
  });

  it("does not take x − mean(x) for a centering when the mean broadcasts along the wrong axis", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(3, 3));
    const flat = b.mean(x, [1]); // [3], broadcast as a row: x[i,j] − μ[j], not x − μ per row
    const d = b.sub(x, flat);
    b.output("y", "logits", b.normalize(x, 1, 1e-5));
    b.output("v", "probe", b.mean(b.mul(d, d), [1]));
    const g = b.build(), fused = fuseNormalize(g);
    expect(printIR(fused)).toMatch(/mean\[axes=\[1\] keepdims=false\] \w+\n/);
    expectSameOutputs(g, fused);
  });

  it("leaves a backward that is not normalize's untouched", () => {
    // Means along axis 0 of a layerNorm (axis 1) statistic: not the pattern.
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(3, 4)), dy = b.input("dy", "data", f32(3, 4));
    const [y, , rstd] = b.emitMulti("norm_forward", [x], { axis: 1, eps: 1e-5, affine: false, xhat: false, y: true });
    const m = (v: V) => b.mean(v, [0], true);
    b.output("y", "logits", y!);
    b.output("dx", "grad", b.mul(b.sub(b.sub(dy, m(dy)), b.mul(y!, m(b.mul(dy, y!)))), b.broadcastTo(rstd!, [3, 4])));
    const g = b.build();
    expect(printIR(fuseNormalizeBackward(g))).toBe(printIR(g));
  });
});
