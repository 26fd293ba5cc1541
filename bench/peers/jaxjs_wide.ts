/**
 * jax-js (wasm device, one thread in Node) on the wider bench's workloads (bench/wide.ts), written
 * as its users would: the forward over a parameter tree, `valueAndGrad`, and for training the
 * gradient and the SGD-momentum update in one `jit`-ed step; predict is a `jit`-ed forward.
 * layerNorm is `nn.standardize` times the weight plus the bias; batchNorm has no jax-js layer and
 * is spelled from primitives (batch mean and biased variance in training, with the running
 * statistics updated as PyTorch does; the running statistics in eval).
 *
 * jax-js arrays are reference-counted with move semantics: a call consumes its arguments, `.ref`
 * keeps one alive. Parameters are keyed by their PyTorch names; linear weights held as [in, out].
 */
import { BN_MOMENTUM, EPS, LR, MOMENTUM, WEIGHT_DECAY, transpose } from "../workloads.js";
import { checkPeer, inOut, outputsOf, wideData, wideParams, type KilnResult, type WideCase, type WidePeer, type WideWorkload } from "../wide.js";
import { load } from "./jaxjs.js";

type Jax = typeof import("@jax-js/jax");
type Arr = import("@jax-js/jax").Array;
type Tree = Record<string, Arr>;

/** Forward through the layer specs; consumes p (one use per leaf), x and, in eval, state. Train-mode batch statistics go to `stats`. */
function forward(jax: Jax, w: WideWorkload, p: Tree, state: Tree, x: Arr, train: boolean, stats: Tree): Arr {
  const { numpy: np, nn } = jax;
  let h = x;
  w.layers.forEach((l, i) => {
    if (l.kind === "relu") { h = nn.relu(h); return; }
    const weight = p[`${i}.weight`]!, bias = p[`${i}.bias`]!;
    if (l.kind === "linear") h = np.matmul(h, weight).add(bias);
    else if (l.kind === "layerNorm") h = nn.standardize(h, -1, { epsilon: EPS }).mul(weight).add(bias);
    else if (train) {
      const mean = np.mean(h.ref, 0);
      const c = h.sub(mean.ref);
      const variance = np.mean(np.square(c.ref), 0);
      h = c.div(np.sqrt(variance.ref.add(EPS))).mul(weight).add(bias);
      stats[`${i}.running_mean`] = mean;
      stats[`${i}.running_var`] = variance;
    } else {
      h = h.sub(state[`${i}.running_mean`]!).div(np.sqrt(state[`${i}.running_var`]!.add(EPS))).mul(weight).add(bias);
    }
  });
  return h;
}

/** Mean softmax cross-entropy over one-hot labels, or mean squared error over every element. */
function loss(jax: Jax, w: WideWorkload, out: Arr, y: Arr): Arr {
  const { numpy: np, nn } = jax;
  return w.loss === "ce" ? nn.logSoftmax(out).mul(y).sum().mul(-1 / w.batch) : np.square(out.sub(y)).sum().mul(1 / (w.batch * outputsOf(w)));
}

export function jaxjsWide(): WidePeer {
  return {
    name: "jax-js",
    threads: 1,
    async prepare(w: WideWorkload, kiln: KilnResult | undefined): Promise<WideCase> {
      const jax = await load();
      const { numpy: np, nn, jit, valueAndGrad, tree, blockUntilReady } = jax;
      const init = wideParams(w), { xs, ys } = wideData(w);
      let p: Tree = {}, state: Tree = {};
      for (const [k, v] of Object.entries(init)) {
        const l = w.layers[Number(k.split(".")[0])]!;
        const a = np.array(inOut(w, k, v));
        if (k.includes("running_")) state[k] = a;
        else p[k] = l.kind === "linear" && k.endsWith(".weight") ? a.reshape([l.in, l.out]) : a;
      }
      const bx = xs.map((x) => np.array(x).reshape([x.length / w.inputs, w.inputs]));
      const by = ys.map((y) => (y instanceof Int32Array ? nn.oneHot(np.array(y, { dtype: np.int32 }), outputsOf(w)).astype(np.float32) : np.array(y).reshape([w.batch, outputsOf(w)])));
      const lossFn = (p: Tree, x: Arr, y: Arr): [Arr, Tree] => {
        const stats: Tree = {};
        return [loss(jax, w, forward(jax, w, p, {}, x, true, stats), y), stats];
      };
      const free = () => tree.dispose([p, state, bx, by]);

      if (w.mode === "predict") {
        const predict = jit((p: Tree, state: Tree, x: Arr) => forward(jax, w, p, state, x, false, {}));
        const run = () => predict(tree.ref(p), tree.ref(state), bx[0]!.ref).dataSync();
        const check = checkPeer({ mode: "predict", output: run() }, kiln);
        return { run, check, dispose: () => { free(); predict.dispose(); } };
      }
      if (w.mode === "gradients") {
        const vg = jit((p: Tree, x: Arr, y: Arr) => {
          const [[value, stats], g] = valueAndGrad(lossFn, { hasAux: true })(p, x, y);
          tree.dispose(stats);
          return [value, g] as [Arr, Tree];
        });
        const once = () => vg(tree.ref(p), bx[0]!.ref, by[0]!.ref);
        const [value, g] = once();
        const grads = Object.fromEntries(Object.entries(g).map(([k, a]) => {
          const l = w.layers[Number(k.split(".")[0])]!, d = a.dataSync() as Float32Array;
          return [k, l.kind === "linear" && k.endsWith(".weight") ? transpose(d, l.in, l.out) : d];
        }));
        const check = checkPeer({ mode: "gradients", loss: value.dataSync()[0]!, grads }, kiln);
        const run = async () => { const out = once(); await blockUntilReady(out); tree.dispose(out); };
        return { run, check, dispose: () => { free(); vg.dispose(); } };
      }

      // Train: gradient, coupled weight decay, momentum (v = μv + g + λw; w −= lr·v, PyTorch's SGD) and
      // the running statistics, in one jit-ed step.
      let mom: Tree = tree.map((v: Arr) => np.zerosLike(v), tree.ref(p)) as Tree;
      const scale = BN_MOMENTUM * w.batch / (w.batch - 1); // PyTorch's running variance is unbiased
      const step = jit((p: Tree, mom: Tree, state: Tree, x: Arr, y: Arr) => {
        const [[value, stats], g] = valueAndGrad(lossFn, { hasAux: true })(tree.ref(p), x, y);
        const p2: Tree = {}, mom2: Tree = {}, state2: Tree = {};
        for (const k of Object.keys(p)) {
          const v = mom[k]!.mul(MOMENTUM).add(g[k]!.add(p[k]!.ref.mul(WEIGHT_DECAY)));
          p2[k] = p[k]!.sub(v.ref.mul(LR));
          mom2[k] = v;
        }
        for (const k of Object.keys(state)) state2[k] = state[k]!.mul(1 - BN_MOMENTUM).add(stats[k]!.mul(k.endsWith("var") ? scale : BN_MOMENTUM));
        return [value, p2, mom2, state2] as [Arr, Tree, Tree, Tree];
      });
      let i = 0;
      const train = (b: number): number => {
        const [value, p2, m2, s2] = step(p, mom, state, bx[b]!.ref, by[b]!.ref);
        p = p2; mom = m2; state = s2;
        return value.dataSync()[0]!;
      };
      const check = checkPeer({ mode: "train", losses: Array.from({ length: 10 }, () => train(0)) }, kiln);
      return { run: () => train(i++ % bx.length), check, dispose: () => { free(); tree.dispose(mom); step.dispose(); } };
    },
  };
}
