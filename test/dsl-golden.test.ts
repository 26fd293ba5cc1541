/**
 * Golden IR of a model with a user fn and a user layer, as traced and after the passes: the user
 * code traces to ordinary primitives (its nodes marked with the scope that made them), and the
 * passes treat them like the built-ins — the fn fused into the elementwise loop, the layer's
 * matrix product with its bias into a linear kernel.
 */
import { describe, expect, it } from "vitest";
import { compile, fn, init, layer, linear, mse, printIR, seq, sgd } from "../src/index.js";

const swish = fn("swish", (x) => x.mul(x.sigmoid()));
const gated = layer({
  name: "gated", in: 3, out: 3,
  params: { weight: { shape: [3, 3], init: init.xavier() }, bias: { shape: [3] } },
  apply: (p, x) => x.matmul(p.weight, { transposeB: true }).add(p.bias).tanh().mul(x),
});
const model = seq(linear(4, 3), swish, gated, linear(3, 2));

describe("golden IR of user code", () => {
  it("eval program as traced and after the passes", () => {
    const ref = compile(model, { inputs: 4, batch: 2, loss: mse(), optimizer: sgd({ lr: 0.1 }), optimize: false });
    expect(printIR(ref.ir.eval)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,4] 0.weight:f32[3,4] 0.bias:f32[3] 2.weight:f32[3,3] 2.bias:f32[3] 3.weight:f32[2,3] 3.bias:f32[2] .
        let a:f32[2,3] = matmul[transA=false transB=true] x 0.weight
            b:f32[2,3] = add a 0.bias
            c:f32[2,3] = sigmoid b  # fn "swish" at 1
            d:f32[2,3] = mul b c  # fn "swish" at 1
            e:f32[2,3] = matmul[transA=false transB=true] d 2.weight  # layer "gated" at 2
            f:f32[2,3] = add e 2.bias  # layer "gated" at 2
            g:f32[2,3] = tanh f  # layer "gated" at 2
            h:f32[2,3] = mul g d  # layer "gated" at 2
            i:f32[2,2] = matmul[transA=false transB=true] h 3.weight
            j:f32[2,2] = add i 3.bias
        in (logits=j) }"
    `);
    const net = compile(model, { inputs: 4, batch: 2, loss: mse(), optimizer: sgd({ lr: 0.1 }) });
    expect(printIR(net.ir.eval)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,4] 0.weight:f32[3,4] 0.bias:f32[3] 2.weight:f32[3,3] 2.bias:f32[3] 3.weight:f32[2,3] 3.bias:f32[2] .
        let a:f32[2,3] = linear[transA=false transB=true relu=false] x 0.weight 0.bias
            b:f32[2,3] = fused_elementwise[shape=[2,3] t0=sigmoid(in0) t1=mul(in0,t0) → t1] a
            c:f32[2,3] = linear[transA=false transB=true relu=false] b 2.weight 2.bias
            d:f32[2,3] = fused_elementwise[shape=[2,3] t0=tanh(in0) t1=mul(t0,in1) → t1] c b
            e:f32[2,2] = linear[transA=false transB=true relu=false] d 3.weight 3.bias
        in (logits=e) }"
    `);
  });

  it("train program after the passes", () => {
    const net = compile(model, { inputs: 4, batch: 2, loss: mse(), optimizer: sgd({ lr: 0.1 }) });
    expect(printIR(net.ir.train)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,4] 0.weight:f32[3,4] 0.bias:f32[3] 2.weight:f32[3,3] 2.bias:f32[3] 3.weight:f32[2,3] 3.bias:f32[2] labels:f32[2,2] lr:f32[] .
        let a:f32[2,3] = linear[transA=false transB=true relu=false] x 0.weight 0.bias
            b:f32[2,3] c:f32[2,3] d:f32[2,3] = fused_elementwise[shape=[2,3] t0=sigmoid(in0) t1=mul(in0,t0) t2=const(1) t3=sub(t2,t0) t4=mul(t0,t3) → t0,t1,t4] a
            e:f32[2,3] = linear[transA=false transB=true relu=false] c 2.weight 2.bias
            f:f32[2,3] g:f32[2,3] h:f32[2,3] = fused_elementwise[shape=[2,3] t0=tanh(in0) t1=mul(t0,in1) t2=mul(t0,t0) t3=const(1) t4=sub(t3,t2) → t0,t1,t4] e c
            i:f32[2,2] = linear[transA=false transB=true relu=false] g 3.weight 3.bias
            j:f32[2,2] k:f32[] l:f32[2] = fused_elementwise[shape=[2,2] t0=sub(in0,in1) t1=mul(t0,t0) t2=const(0.25) t3=mul(t2,t0) t4=add(t3,t3) → t4 mean(t1,axes=[0,1]) sum(t4,axes=[0])] i labels
            m:f32[2,3] = matmul[transA=false transB=false] j 3.weight
            n:f32[2,3] = matmul[transA=true transB=false] j g
            o:f32[2,3] p:f32[3] = fused_elementwise[shape=[2,3] t0=mul(in0,in1) t1=mul(t0,in2) → t1 sum(t1,axes=[0])] m c h
            q:f32[2,3] = matmul[transA=false transB=false] o 2.weight
            r:f32[3,3] = matmul[transA=true transB=false] o c
            s:f32[2,3] t:f32[3] = fused_elementwise[shape=[2,3] t0=mul(in0,in1) t1=add(t0,in2) t2=mul(t1,in3) t3=mul(t1,in4) t4=mul(t3,in5) t5=add(t2,t4) → t5 sum(t5,axes=[0])] m f q b a d
            u:f32[3,4] = matmul[transA=true transB=false] s x
            v:f32[3,4] = fused_elementwise[shape=[3,4] t0=mul(in0,in1) t1=sub(in2,t0) → t1] u lr 0.weight
            w:f32[3] = fused_elementwise[shape=[3] t0=mul(in0,in1) t1=sub(in2,t0) → t1] t lr 0.bias
            y:f32[3,3] = fused_elementwise[shape=[3,3] t0=mul(in0,in1) t1=sub(in2,t0) → t1] r lr 2.weight
            z:f32[3] = fused_elementwise[shape=[3] t0=mul(in0,in1) t1=sub(in2,t0) → t1] p lr 2.bias
            ba:f32[2,3] = fused_elementwise[shape=[2,3] t0=mul(in0,in1) t1=sub(in2,t0) → t1] n lr 3.weight
            bb:f32[2] = fused_elementwise[shape=[2] t0=mul(in0,in1) t1=sub(in2,t0) → t1] l lr 3.bias
        in (loss=k, 0.weight=v, 0.bias=w, 2.weight=y, 2.bias=z, 3.weight=ba, 3.bias=bb) }"
    `);
  });
});
