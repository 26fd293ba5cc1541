/** The IR as data: golden printed text, JSON round trip, rejection of malformed graphs. */
import { describe, expect, it } from "vitest";
import {
  batchNorm, compile, decodeGraph, DecodeError, dropout, encodeGraph, layerNorm, linear, printIR, relu, residual, seq, sgd,
} from "../src/index.js";

const small = () => compile(seq(linear(3, 2), relu, dropout(0.5), linear(2, 2)), {
  inputs: 3, batch: 2, seed: 1, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), optimize: false,
});

const full = () => compile(
  seq(linear(4, 3), layerNorm(3), relu, dropout(0.1), residual(seq(linear(3, 3), batchNorm(3), relu)), linear(3, 2)),
  { inputs: 4, batch: 2, optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }), optimize: false },
);

describe("printIR golden text", () => {
  it("eval graph of the README model", () => {
    expect(printIR(full().ir.eval)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,4] 0.weight:f32[3,4] 0.bias:f32[3] 1.weight:f32[3] 1.bias:f32[3] 4.fn.0.weight:f32[3,3] 4.fn.0.bias:f32[3] 4.fn.1.weight:f32[3] 4.fn.1.bias:f32[3] 4.fn.1.running_mean:f32[3] 4.fn.1.running_var:f32[3] 5.weight:f32[2,3] 5.bias:f32[2] .
        let a:f32[2,3] = matmul[transA=false transB=true] x 0.weight
            b:f32[2,3] = add a 0.bias
            c:f32[2,3] = normalize[axis=1 eps=0.00001] b
            d:f32[2,3] = mul c 1.weight
            e:f32[2,3] = add d 1.bias
            f:f32[2,3] = relu e
            g:f32[2,3] = matmul[transA=false transB=true] f 4.fn.0.weight
            h:f32[2,3] = add g 4.fn.0.bias
            i:f32[2,3] = sub h 4.fn.1.running_mean
            j:f32[3] = add 4.fn.1.running_var 0.00001
            k:f32[3] = rsqrt j
            l:f32[2,3] = mul i k
            m:f32[2,3] = mul l 4.fn.1.weight
            n:f32[2,3] = add m 4.fn.1.bias
            o:f32[2,3] = relu n
            p:f32[2,3] = add f o
            q:f32[2,2] = matmul[transA=false transB=true] p 5.weight
            r:f32[2,2] = add q 5.bias
        in (logits=r) }"
    `);
  });

  it("train graph of a small model: forward, backward and SGD momentum in one graph", () => {
    expect(printIR(small().ir.train)).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,3] 0.weight:f32[2,3] 0.bias:f32[2] step:i32[] 3.weight:f32[2,2] 3.bias:f32[2] labels:i32[2] lr:f32[] 0.weight.momentum_buffer:f32[2,3] 0.bias.momentum_buffer:f32[2] 3.weight.momentum_buffer:f32[2,2] 3.bias.momentum_buffer:f32[2] .
        let a:f32[2,2] = matmul[transA=false transB=true] x 0.weight
            b:f32[2,2] = add a 0.bias
            c:f32[2,2] = relu b
            d:f32[2,2] = dropout_mask[p=0.5 seed=1 stream=0 shape=[2,2]] step
            e:f32[2,2] = mul c d
            f:f32[2,2] = matmul[transA=false transB=true] e 3.weight
            g:f32[2,2] = add f 3.bias
            h:f32[2,2] = log_softmax[axis=1] g
            i:f32[2,2] = one_hot[classes=2] labels
            j:f32[2,2] = mul h i
            k:f32[] = sum[axes=[0,1] keepdims=false] j
            l:f32[] = mul k -0.5
            m:f32[] = mul 1.0 -0.5
            n:f32[1,1] = reshape[shape=[1,1]] m
            o:f32[2,2] = broadcast_to[shape=[2,2]] n
            p:f32[2,2] = mul o i
            q:f32[2,2] = exp h
            r:f32[2,1] = sum[axes=[1] keepdims=true] p
            s:f32[2,2] = mul q r
            t:f32[2,2] = sub p s
            u:f32[1,2] = sum[axes=[0] keepdims=true] t
            v:f32[2] = reshape[shape=[2]] u
            w:f32[2,2] = matmul[transA=false transB=false] t 3.weight
            y:f32[2,2] = matmul[transA=true transB=false] t e
            z:f32[2,2] = mul w d
            ba:f32[2,2] = step b
            bb:f32[2,2] = mul z ba
            bc:f32[1,2] = sum[axes=[0] keepdims=true] bb
            bd:f32[2] = reshape[shape=[2]] bc
            be:f32[2,3] = matmul[transA=true transB=false] bb x
            bf:f32[2,3] = mul 0.weight.momentum_buffer 0.9
            bg:f32[2,3] = add bf be
            bh:f32[2,3] = mul bg lr
            bi:f32[2,3] = sub 0.weight bh
            bj:f32[2] = mul 0.bias.momentum_buffer 0.9
            bk:f32[2] = add bj bd
            bl:f32[2] = mul bk lr
            bm:f32[2] = sub 0.bias bl
            bn:f32[2,2] = mul 3.weight.momentum_buffer 0.9
            bo:f32[2,2] = add bn y
            bp:f32[2,2] = mul bo lr
            bq:f32[2,2] = sub 3.weight bp
            br:f32[2] = mul 3.bias.momentum_buffer 0.9
            bs:f32[2] = add br v
            bt:f32[2] = mul bs lr
            bu:f32[2] = sub 3.bias bt
        in (loss=l, 0.weight=bi, 0.weight.momentum_buffer=bg, 0.bias=bm, 0.bias.momentum_buffer=bk, 3.weight=bq, 3.weight.momentum_buffer=bo, 3.bias=bu, 3.bias.momentum_buffer=bs) }"
    `);
  });

  it("backward graph holds only the loss and one gradient per parameter", () => {
    const g = small().ir.backward;
    expect(g.outputs.map((o) => o.name)).toEqual(["loss", "0.weight.grad", "0.bias.grad", "3.weight.grad", "3.bias.grad"]);
  });
});

describe("JSON round trip", () => {
  const net = full();
  for (const stage of ["forward", "backward", "train", "eval"] as const) {
    it(`decode(encode(ir.${stage})) deep-equals it, also through JSON text`, () => {
      const g = net.ir[stage];
      expect(decodeGraph(encodeGraph(g))).toEqual(g);
      expect(decodeGraph(JSON.parse(JSON.stringify(encodeGraph(g))))).toEqual(g);
    });
  }
});

describe("malformed graphs are rejected with the path of the bad field", () => {
  const base = () => JSON.parse(JSON.stringify(encodeGraph(small().ir.train)));
  const cases: [string, (g: any) => void, RegExp][] = [
    ["wrong attribute type", (g) => { g.nodes[0].attrs.transB = "yes"; }, /nodes\[0\]\.attrs\.transB: expected boolean, got "yes"/],
    ["unknown op", (g) => { g.nodes[1].op = "conv9d"; }, /nodes\[1\]\.op: expected op name, got "conv9d"/],
    ["extra key", (g) => { g.nodes[0].extra = 1; }, /nodes\[0\].extra: expected no such field \(allowed: op, inputs, outputs, attrs, at\), got 1/],
    ["negative dimension", (g) => { g.values[0].shape = [2, -3]; }, /values\[0\]\.shape\[1\]: expected positive integer dimension, got -3/],
    ["use before definition", (g) => { g.nodes[0].inputs = [g.nodes[3].outputs[0], g.nodes[0].inputs[1]]; }, /uses value \d+ before it is defined/],
    ["value out of range", (g) => { g.outputs[0].value = 9999; }, /outputs\[0\]: value 9999 does not exist/],
    ["shape rule violated", (g) => { g.values[g.nodes[0].outputs[0]].shape = [5, 5]; }, /declares f32\[5,5\] but the shape rule gives f32\[2,2\]/],
    ["wrong arity", (g) => { g.nodes[0].inputs = [g.nodes[0].inputs[0]]; }, /expected 2 inputs, got 1/],
    ["huge tensor", (g) => { g.values[0].shape = [65536, 65536]; }, /exceeds 268435456 elements/],
    ["not an object", (g) => { g.nodes = 3; }, /nodes: expected Array/],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const g = base();
      mutate(g);
      expect(() => decodeGraph(g)).toThrow(DecodeError);
      expect(() => decodeGraph(g)).toThrow(message);
    });
  }
});
