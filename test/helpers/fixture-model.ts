/**
 * The JSON model descriptions of the PyTorch fixtures (test/fixtures/kiln_torch.py writes them)
 * turned into kiln models, losses and optimizers as a user would write them. test/pytorch.test.ts
 * rebuilds every fixture with it; bench/cliffs.ts builds its sweep's models with it.
 */
import {
  adam, adamw, batchNorm, binaryCrossEntropy, cat, compile, concat, cosine, dropout, fn, gelu, huber, l1, layer, layerNorm, leakyRelu,
  linear, lossFn, mse, relu, residual, seq, sgd, sigmoid, silu, softmaxCrossEntropy, tanh, type Loss, type T,
} from "../../src/index.js";
import { exprFn, exprLayer, lossExpr, type ExprFnJson, type ExprLayerJson, type LossExprJson } from "./dsl-expr.js";

export type LayerJson =
  | { readonly kind: "linear"; readonly in: number; readonly out: number; readonly bias: boolean }
  | { readonly kind: "relu" }
  | { readonly kind: "dropout"; readonly p: number }
  | { readonly kind: "layerNorm"; readonly n: number; readonly eps: number; readonly affine: boolean }
  | { readonly kind: "batchNorm"; readonly n: number; readonly eps: number; readonly momentum: number }
  | { readonly kind: "residual"; readonly fn: LayerJson }
  | { readonly kind: "seq"; readonly layers: readonly LayerJson[] }
  | { readonly kind: "concat"; readonly branches: readonly LayerJson[] }
  | { readonly kind: "activation"; readonly name: "tanh" | "sigmoid" | "silu" | "gelu" | "leakyRelu"; readonly approximate?: "none" | "tanh"; readonly slope?: number }
  | { readonly kind: "userFn"; readonly name: keyof typeof USER_FNS }
  | { readonly kind: "userLayer"; readonly name: keyof typeof USER_LAYERS; readonly n: number }
  | ExprFnJson | ExprLayerJson;

export type LossJson =
  | "softmaxCrossEntropy" | "mse"
  | { readonly kind: "binaryCrossEntropy"; readonly logits: boolean }
  | { readonly kind: "l1" }
  | { readonly kind: "huber"; readonly delta: number }
  | { readonly kind: "lossFn"; readonly name: keyof typeof USER_LOSSES }
  | LossExprJson;

export type OptimizerJson = (
  | { readonly kind: "sgd"; readonly lr: number; readonly momentum: number; readonly weightDecay: number; readonly nesterov: boolean; readonly cosineSteps?: number }
  | { readonly kind: "adam" | "adamw"; readonly lr: number; readonly betas: [number, number]; readonly eps: number; readonly weightDecay: number }
) & { readonly clipGradNorm?: number; readonly clipGradValue?: number };

/** Whatever compile() accepts as a model. */
export type Model = Parameters<typeof compile>[0];

// The combinators check feature sizes at the type level; a tree read from JSON only has `number`
// sizes, so its layers are handed over as plain models.
const asModel = (layer: unknown): Model => layer as Model;
const seqOf = seq as unknown as (...layers: Model[]) => Model;
const residualOf = residual as unknown as (fn: Model) => Model;

// ---------------------------------------------------------------------------------------------
// User code of the DSL fixtures: the same formulas as USER_FNS, USER_LAYERS and USER_LOSSES in
// test/fixtures/kiln_torch.py, written with kiln's tensor expressions as a user would.

const USER_FNS = {
  swish: (x: T) => x.mul(x.sigmoid()),
  softsign: (x: T) => x.div(x.abs().add(1)),
  bump: (x: T) => x.mul(x.square().neg().exp()),
  isru: (x: T) => x.mul(x.square().add(1).rsqrt()),
  powmix: (x: T) => x.square().add(1).pow(0.75).sub(x.mul(0.5).tanh()),
  clip: (x: T) => x.maximum(-1).minimum(1),
  center: (x: T) => x.sub(x.mean(1, { keepdims: true })),
  softmaxRows: (x: T) => {
    const e = x.sub(x.max(-1, { keepdims: true })).exp();
    return e.div(e.sum(-1, { keepdims: true }));
  },
  logabs: (x: T) => x.abs().add(1).log().mul(x.sign()).add(x.erf().mul(0.5)),
};

const USER_LAYERS = {
  glu: (n: number) => layer({
    name: "glu", in: n, out: n,
    params: { weight: { shape: [2 * n, n] }, bias: { shape: [2 * n] } },
    apply: (p, x) => {
      const h = x.matmul(p.weight, { transposeB: true }).add(p.bias);
      return h.slice(1, 0, n).mul(h.slice(1, n, 2 * n).sigmoid());
    },
  }),
  twin: (n: number) => layer({
    name: "twin", in: n, out: 2 * n,
    params: { weight: { shape: [n, n] }, scale: { shape: [n] } },
    apply: (p, x) => cat([x.matmul(p.weight), x.mul(p.scale)], -1),
  }),
  gram: (n: number) => layer({
    name: "gram", in: n, out: n,
    params: { weight: { shape: [n, n] }, bias: { shape: [n] } },
    apply: (p, x) => {
      const h = x.matmul(p.weight, { transposeB: true });
      return x.matmul(x.matmul(h, { transposeA: true })).div(x.shape[0]!).add(p.bias);
    },
  }),
};

const USER_LOSSES = {
  relsq: (out: T, t: T) => out.sub(t).square().div(t.abs().add(1)).sum().div(out.shape[0]!),
};

export function lossOf(l: LossJson): Loss {
  if (l === "mse") return mse();
  if (l === "softmaxCrossEntropy") return softmaxCrossEntropy();
  switch (l.kind) {
    case "binaryCrossEntropy": return binaryCrossEntropy({ logits: l.logits });
    case "l1": return l1();
    case "huber": return huber({ delta: l.delta });
    case "lossFn": return lossFn(l.name, USER_LOSSES[l.name]);
    case "lossExpr": return lossExpr(l);
  }
}

function activationOf(d: Extract<LayerJson, { kind: "activation" }>): Model {
  switch (d.name) {
    case "tanh": return asModel(tanh);
    case "sigmoid": return asModel(sigmoid);
    case "silu": return asModel(silu);
    // The defaults are written the short way, so they are tested too.
    case "gelu": return asModel(d.approximate === "tanh" ? gelu({ approximate: "tanh" }) : gelu);
    case "leakyRelu": return asModel(d.slope === 0.01 ? leakyRelu() : leakyRelu(d.slope!));
  }
}

const concatOf = concat as unknown as (...branches: Model[]) => Model;

/** The kiln expression for a fixture's model. Options equal to the documented defaults are left out, so the defaults are tested too. */
export function build(d: LayerJson): Model {
  switch (d.kind) {
    case "linear":
      return asModel(d.bias ? linear(d.in, d.out) : linear(d.in, d.out, { bias: false }));
    case "relu":
      return asModel(relu);
    case "dropout":
      return asModel(dropout(d.p));
    case "layerNorm": {
      const opts: { eps?: number; affine?: boolean } = {};
      if (d.eps !== 1e-5) opts.eps = d.eps;
      if (!d.affine) opts.affine = false;
      return asModel(layerNorm(d.n, opts));
    }
    case "batchNorm": {
      const opts: { eps?: number; momentum?: number } = {};
      if (d.eps !== 1e-5) opts.eps = d.eps;
      if (d.momentum !== 0.1) opts.momentum = d.momentum;
      return asModel(batchNorm(d.n, opts));
    }
    case "residual":
      return residualOf(build(d.fn));
    case "seq":
      return seqOf(...d.layers.map(build));
    case "concat":
      return concatOf(...d.branches.map(build));
    case "activation":
      return activationOf(d);
    case "userFn":
      return asModel(fn(d.name, USER_FNS[d.name]));
    case "userLayer":
      return asModel(USER_LAYERS[d.name](d.n));
    case "exprFn":
      return asModel(exprFn(d));
    case "exprLayer":
      return asModel(exprLayer(d));
  }
}

export function optimizerOf(o: OptimizerJson) {
  const clip = { ...(o.clipGradNorm === undefined ? {} : { clipGradNorm: o.clipGradNorm }), ...(o.clipGradValue === undefined ? {} : { clipGradValue: o.clipGradValue }) };
  if (o.kind === "sgd") {
    const lr = o.cosineSteps ? cosine({ from: o.lr, to: 0, steps: o.cosineSteps }) : o.lr;
    return sgd({ lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov, ...clip });
  }
  return (o.kind === "adam" ? adam : adamw)({ lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, ...clip });
}
