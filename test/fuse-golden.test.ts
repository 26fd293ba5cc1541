/**
 * Golden IR in, IR out for fuseLinear and fuseElementwise, each pass alone (as `kiln inspect
 * --after` shows it), with the issue-10 activations (GELU, swish, tanh, leaky relu) after
 * matmul + bias; and agreement of each rewritten graph with the original (float64).
 */
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import { printIR } from "../compiler/ir/print.js";
import { size } from "../compiler/ir/types.js";
import { fuseElementwise } from "../compiler/passes/fuseElementwise.js";
import { fuseLinear } from "../compiler/passes/fuseLinear.js";
import { simplify } from "../compiler/passes/simplify.js";
import { differentiate } from "../compiler/autodiff.js";
import { maxRelErr, rand, randomArray, runGraph } from "./helpers/run.js";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

function expectSameOutputs(before: Graph, after: Graph): void {
  const r = rand(3);
  const inputs: Record<string, ArrayLike<number>> = {};
  for (const i of before.inputs) inputs[i.name] = randomArray(size(before.values[i.value]!.shape), r, -2, 2);
  const a = runGraph(before, inputs), c = runGraph(after, inputs);
  for (const o of before.outputs) expect(maxRelErr(c[o.name]!, a[o.name]!), o.name).toBeLessThan(1e-12);
}

/** x·Wᵀ + b, then GELU (erf form), swish and tanh on three heads, and a leaky relu. */
function activations(): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", "data", f32(4, 3)), w = b.input("w", "param", f32(5, 3)), c = b.input("c", "param", f32(5));
  const h = b.add(b.matmul(x, w, false, true), c);
  const gelu = b.mul(b.mul(h, b.scalar(0.5)), b.add(b.scalar(1), b.erf(b.mul(h, b.scalar(Math.SQRT1_2)))));
  const swish = b.mul(h, b.sigmoid(h));
  const leaky = b.add(b.mul(b.relu(h), b.scalar(0.9)), b.mul(h, b.scalar(0.1)));
  b.output("gelu", "probe", gelu);
  b.output("swish", "probe", swish);
  b.output("tanh", "probe", b.tanh(h));
  b.output("leaky", "probe", leaky);
  return b.build();
}

describe("fuseLinear", () => {
  it("bias add → linear; relu read only by relu/step → the epilogue; a non-relu activation keeps the plain linear", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(4, 3)), w = b.input("w", "param", f32(5, 3)), c = b.input("c", "param", f32(5));
    const pre = b.add(b.matmul(x, w, false, true), c);
    b.output("y", "probe", b.relu(pre));
    b.output("mask", "probe", b.step(pre));
    const g = b.build();
    const fused = fuseLinear(g);
    expect(printIR(fused)).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,3] w:f32[5,3] c:f32[5] .
        let a:f32[4,5] = linear[transA=false transB=true relu=true] x w c
            b:f32[4,5] = step a
        in (y=a, mask=b) }"
    `);
    expectSameOutputs(g, fused);
    const act = activations(), fusedAct = fuseLinear(act);
    expect(printIR(fusedAct)).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,3] w:f32[5,3] c:f32[5] .
        let a:f32[4,5] = linear[transA=false transB=true relu=false] x w c
            b:f32[4,5] = mul a 0.5
            d:f32[4,5] = mul a 0.7071067811865476
            e:f32[4,5] = erf d
            f:f32[4,5] = add 1.0 e
            g:f32[4,5] = mul b f
            h:f32[4,5] = sigmoid a
            i:f32[4,5] = mul a h
            j:f32[4,5] = relu a
            k:f32[4,5] = mul j 0.9
            l:f32[4,5] = mul a 0.1
            m:f32[4,5] = add k l
            n:f32[4,5] = tanh a
        in (gelu=g, swish=i, tanh=n, leaky=m) }"
    `);
    expectSameOutputs(act, fusedAct);
  });
});

describe("fuseElementwise", () => {
  it("every activation chain after the linear becomes one loop (constants inlined, one read of h)", () => {
    const g = fuseLinear(activations()), fused = fuseElementwise(g);
    expect(printIR(fused)).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,3] w:f32[5,3] c:f32[5] .
        let a:f32[4,5] = linear[transA=false transB=true relu=false] x w c
            b:f32[4,5] = fused_elementwise[shape=[4,5] t0=const(0.5) t1=mul(in0,t0) t2=const(0.7071067811865476) t3=mul(in0,t2) t4=erf(t3) t5=const(1) t6=add(t5,t4) t7=mul(t1,t6) → t7] a
            d:f32[4,5] = fused_elementwise[shape=[4,5] t0=sigmoid(in0) t1=mul(in0,t0) → t1] a
            e:f32[4,5] = fused_elementwise[shape=[4,5] t0=relu(in0) t1=const(0.9) t2=mul(t0,t1) t3=const(0.1) t4=mul(in0,t3) t5=add(t2,t4) → t5] a
            f:f32[4,5] = fused_elementwise[shape=[4,5] t0=tanh(in0) → t0] a
        in (gelu=b, swish=d, tanh=f, leaky=e) }"
    `);
    expectSameOutputs(g, fused);
  });

  it("broadcast inputs are read through strides, pow carries its exponent, a reduction ends the loop", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(3, 4)), s = b.input("s", "data", f32(4));
    const y = b.maximum(b.pow(b.sub(x, b.broadcastTo(s, [3, 4])), 2), b.abs(x));
    const m = b.max(y, [1], true);
    b.output("z", "probe", b.minimum(b.div(y, m), b.scalar(0.75)));
    const g = b.build(), fused = fuseElementwise(g);
    expect(printIR(fused)).toMatchInlineSnapshot(`
      "{ lambda x:f32[3,4] s:f32[4] .
        let a:f32[3,4] = fused_elementwise[shape=[3,4] t0=sub(in0,in1) t1=pow(t0,2) t2=abs(in0) t3=maximum(t1,t2) → t3] x s
            b:f32[3,1] = max[axes=[1] keepdims=true] a
            c:f32[3,4] = fused_elementwise[shape=[3,4] t0=div(in0,in1) t1=const(0.75) t2=minimum(t0,t1) → t2] a b
        in (z=c) }"
    `);
    expectSameOutputs(g, fused);
  });
});

describe("fuseElementwise across an independent statistic", () => {
  it("batchNorm's eval chain is one loop though rsqrt(var + ε) is made between x − μ and the affine; a value that depends on the loop is not read by it", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(4, 6)), mu = b.input("mu", "state", f32(6)), v = b.input("v", "state", f32(6));
    const gamma = b.input("gamma", "param", f32(6)), beta = b.input("beta", "param", f32(6));
    const centred = b.sub(x, mu);                             // [4, 6], first
    const k = b.rsqrt(b.add(v, b.scalar(1e-5)));              // [6], after it and independent of it
    b.output("y", "probe", b.add(b.mul(b.mul(centred, k), gamma), beta));
    // A [6] value computed FROM the loop (a column sum of it) feeds it back: two loops, no cycle.
    const s = b.sum(centred, [0]);
    b.output("z", "probe", b.mul(centred, s));
    const g = b.build(), f = fuseElementwise(g);
    expect(printIR(f)).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,6] mu:f32[6] v:f32[6] gamma:f32[6] beta:f32[6] .
        let a:f32[6] = fused_elementwise[shape=[6] t0=const(0.00001) t1=add(in0,t0) t2=rsqrt(t1) → t2] v
            b:f32[4,6] c:f32[4,6] = fused_elementwise[shape=[4,6] t0=sub(in0,in1) t1=mul(t0,in2) t2=mul(t1,in3) t3=add(t2,in4) → t0,t3] x mu a gamma beta
            d:f32[6] = sum[axes=[0] keepdims=false] b
            e:f32[4,6] = fused_elementwise[shape=[4,6] t0=mul(in0,in1) → t0] b d
        in (y=c, z=e) }"
    `);
    expectSameOutputs(g, f);
  });
});

describe("fuseElementwise: late reads never close a cycle", () => {
  it("a [n] loop read late by a [B, n] loop that later grows by a node depending on that loop: fused without the late read", () => {
    // The reader [4,6] loop takes k late; then k's [6] loop grows by k·Σ(x − μ), which depends on
    // the reader: fusing both ways would be a cycle (toposort threw on it).
    const b = new GraphBuilder();
    const x = b.input("x", "data", f32(4, 6)), mu = b.input("mu", "state", f32(6)), v = b.input("v", "state", f32(6));
    const centred = b.sub(x, mu);
    const k = b.rsqrt(b.add(v, b.scalar(1e-5)));
    b.output("y", "probe", b.mul(centred, k));
    const s = b.sum(centred, [0]);
    b.output("z", "probe", b.mul(k, s));
    const g = b.build(), f = fuseElementwise(g);
    expect(printIR(f)).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,6] mu:f32[6] v:f32[6] .
        let a:f32[4,6] = fused_elementwise[shape=[4,6] t0=sub(in0,in1) → t0] x mu
            b:f32[6] = fused_elementwise[shape=[6] t0=const(0.00001) t1=add(in0,t0) t2=rsqrt(t1) → t2] v
            c:f32[4,6] = fused_elementwise[shape=[4,6] t0=mul(in0,in1) → t0] a b
            d:f32[6] = sum[axes=[0] keepdims=false] a
            e:f32[6] = fused_elementwise[shape=[6] t0=mul(in0,in1) → t0] b d
        in (y=c, z=e) }"
    `);
    expectSameOutputs(g, f);
  });
});

describe("simplify: block moves", () => {
  it("the gradient of slices that tile a tensor (a GLU's halves) is one concat, not pads and adds", () => {
    const b = new GraphBuilder();
    const h = b.input("h", "param", f32(2, 6));
    const glu = b.mul(b.slice(h, 1, 0, 3), b.sigmoid(b.slice(h, -1, 3, 6)));
    const third = b.slice(h, 0, 1, 2);
    const r = b.input("r", "data", f32(2, 3)), q = b.input("q", "data", f32(1, 6));
    b.output("loss", "loss", b.add(b.sum(b.mul(glu, r), [0, 1]), b.sum(b.mul(third, q), [0, 1])));
    const g = differentiate(b.build(), "loss", ["h"]), s = simplify(g);
    expect(printIR(s)).toMatchInlineSnapshot(`
      "{ lambda h:f32[2,6] r:f32[2,3] q:f32[1,6] .
        let a:f32[2,3] = slice[axis=1 [0:3]] h
            b:f32[2,3] = slice[axis=-1 [3:6]] h
            c:f32[2,3] = sigmoid b
            d:f32[2,3] = mul a c
            e:f32[1,6] = slice[axis=0 [1:2]] h
            f:f32[2,3] = mul d r
            g:f32[] = sum[axes=[0,1] keepdims=false] f
            i:f32[1,6] = mul e q
            j:f32[] = sum[axes=[0,1] keepdims=false] i
            k:f32[] = add g j
            l:f32[1,6] = mul 1.0 q
            m:f32[2,3] = mul 1.0 r
            n:f32[2,6] = pad[axis=0 (1, 0)] l
            o:f32[2,3] = mul m c
            p:f32[2,3] = mul m a
            s:f32[2,3] = sub 1.0 c
            t:f32[2,3] = mul c s
            u:f32[2,3] = mul p t
            v:f32[2,6] = concat[axis=1] o u
            w:f32[2,6] = add n v
        in (loss=k, h.grad=w) }"
    `);
    expectSameOutputs(g, s);
  });
});
