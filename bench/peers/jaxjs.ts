/**
 * jax-js 0.1.25 on its wasm device, every workload under jit; gradients by its autodiff
 * (valueAndGrad, vjp). In Node 20 jax-js runs single-threaded: its worker pool needs a global
 * web `Worker`, which Node 20 does not have.
 *
 * jax-js arrays are reference-counted with move semantics: passing an array to a function
 * consumes it, `.ref` keeps it alive. Inside the traced functions each use but the last takes `.ref`.
 */
import {
  BATCH, BN_MOMENTUM, CHECK_STEPS, CLASSES, DROP, EPS, INPUTS, LINEARS, LR, MOMENTUM, NORMS, POOL, W3_CHECK_ROWS,
  WEIGHT_DECAY, checkClose, checkLayerNorm, checkSgemm, checkTraining, transpose, type Norm, type Workload,
} from "../workloads.js";
import type { Case, Peer, Shared } from "./types.js";
import { packageVersion } from "./util.js";

type Jax = typeof import("@jax-js/jax");
type Arr = import("@jax-js/jax").Array;
type Tree = Record<string, Arr>;

let jaxModule: Promise<Jax> | null = null;

/** jax-js on its wasm device, once per process (the wider bench's peer uses it too). */
export function load(): Promise<Jax> {
  jaxModule ??= (async () => {
    const jax = await import("@jax-js/jax");
    const devices = await jax.init("wasm");
    if (!devices.includes("wasm")) throw new Error(`jax-js: wasm device unavailable (got ${devices.join(", ")})`);
    jax.defaultDevice("wasm");
    return jax;
  })();
  return jaxModule;
}

function params(jax: Jax, init: Record<string, Float32Array>): { p: Tree; state: Tree } {
  const np = jax.numpy;
  const p: Tree = {}, state: Tree = {};
  for (const l of LINEARS) {
    p[`l${l.index}w`] = np.array(transpose(init[`${l.index}.weight`]!, l.out, l.in)).reshape([l.in, l.out]);
    p[`l${l.index}b`] = np.array(init[`${l.index}.bias`]!);
  }
  for (const n of NORMS) {
    p[`n${n}w`] = np.array(init[`${n}.weight`]!);
    p[`n${n}b`] = np.array(init[`${n}.bias`]!);
    if (init[`${n}.running_mean`]) {
      state[`m${n}`] = np.array(init[`${n}.running_mean`]!);
      state[`v${n}`] = np.array(init[`${n}.running_var`]!);
    }
  }
  return { p, state };
}

/**
 * The MLP's forward. Consumes p (one use per leaf), x and key. Train mode: dropout masks from
 * `key`, batchNorm on batch statistics (returned in `stats` for the running update).
 */
function forward(jax: Jax, norm: Norm, p: Tree, x: Arr, train: boolean, key: Arr | null, state: Tree | null, stats: Tree): Arr {
  const { numpy: np, nn, random } = jax;
  const keys = key ? random.split(key, 2) : null;
  let h = x;
  let d = 0;
  for (const l of LINEARS) {
    h = np.matmul(h, p[`l${l.index}w`]!).add(p[`l${l.index}b`]!);
    if (l.index === 8) break;
    const n = l.index + 1, w = p[`n${n}w`]!, b = p[`n${n}b`]!;
    if (norm === "layerNorm") {
      h = nn.standardize(h, -1, { epsilon: EPS }).mul(w).add(b);
    } else if (train) {
      const mean = np.mean(h.ref, 0);
      const c = h.sub(mean.ref);
      const variance = np.mean(np.square(c.ref), 0);
      h = c.div(np.sqrt(variance.ref.add(EPS))).mul(w).add(b);
      stats[`m${n}`] = mean;
      stats[`v${n}`] = variance;
    } else {
      h = h.sub(state![`m${n}`]!).div(np.sqrt(state![`v${n}`]!.add(EPS))).mul(w).add(b);
    }
    h = nn.relu(h);
    if (train) {
      const keep = random.bernoulli(keys!.ref.slice(d++), 1 - DROP, [h.shape[0]!, h.shape[1]!]);
      h = h.mul(keep.astype(np.float32)).mul(1 / (1 - DROP));
    }
  }
  keys?.dispose();
  return h;
}

export function jaxjs(): Peer {
  let jaxVersion = "";
  return {
    name: "jax-js",
    threads: 1,
    async setup() {
      await load();
      jaxVersion = packageVersion("@jax-js/jax");
    },
    info: () => ({ version: jaxVersion, device: "wasm", workers: "none (Node 20 has no global Worker)" }),
    supports: (w: Workload) => !w.kilnOnly,
    async prepare(w: Workload, shared: Shared): Promise<Case | null> {
      const jax = await load();
      const { numpy: np, nn, random, jit, valueAndGrad, vjp, tree, blockUntilReady } = jax;
      switch (w.group) {
        case "W1": {
          const n = w.n!;
          const { a, b } = shared.sgemm(n);
          const ta = np.array(a).reshape([n, n]), tb = np.array(b).reshape([n, n]);
          const mm = jit((x: Arr, y: Arr) => np.matmul(x, y));
          const run = () => mm(ta.ref, tb.ref).dataSync();
          return { run, check: checkSgemm(n, a, b, run()), dispose: () => { ta.dispose(); tb.dispose(); mm.dispose(); } };
        }
        case "W2": case "W2b": {
          const norm: Norm = w.group === "W2" ? "layerNorm" : "batchNorm";
          let { p, state } = params(jax, shared.params(norm));
          let mom: Tree = tree.map((v: Arr) => np.zerosLike(v), tree.ref(p)) as Tree;
          const data = shared.train();
          const xs = data.xs.map((x) => np.array(x).reshape([BATCH, INPUTS]));
          const oh = data.labels.map((l) => nn.oneHot(np.array(l, { dtype: np.int32 }), CLASSES).astype(np.float32));
          const lossFn = (p: Tree, x: Arr, y: Arr, key: Arr): [Arr, Tree] => {
            const stats: Tree = {};
            const logits = forward(jax, norm, p, x, true, key, null, stats);
            return [nn.logSoftmax(logits).mul(y).sum().mul(-1 / BATCH), stats];
          };
          const step = jit((p: Tree, mom: Tree, state: Tree, x: Arr, y: Arr, key: Arr) => {
            const [[loss, stats], g] = valueAndGrad(lossFn, { hasAux: true })(tree.ref(p), x, y, key);
            const np2: Tree = {}, mom2: Tree = {}, state2: Tree = {};
            for (const k of Object.keys(p)) {
              const d = g[k]!.add(p[k]!.ref.mul(WEIGHT_DECAY));
              const v = mom[k]!.mul(MOMENTUM).add(d);
              np2[k] = p[k]!.sub(v.ref.mul(LR));
              mom2[k] = v;
            }
            for (const k of Object.keys(state)) {
              const s = stats[k]!;
              const scale = k.startsWith("v") ? (BN_MOMENTUM * BATCH) / (BATCH - 1) : BN_MOMENTUM;
              state2[k] = state[k]!.mul(1 - BN_MOMENTUM).add(s.mul(scale));
            }
            for (const k of Object.keys(stats)) if (!(k in state)) stats[k]!.dispose();
            return [loss, np2, mom2, state2] as [Arr, Tree, Tree, Tree];
          });
          let stepNo = 0;
          const train = async (b: number): Promise<number> => {
            const key = random.key(stepNo++);
            const [loss, p2, m2, s2] = step(p, mom, state, xs[b]!.ref, oh[b]!.ref, key);
            p = p2; mom = m2; state = s2;
            await blockUntilReady([p, mom, state]);
            return loss.dataSync()[0]!;
          };
          const losses: number[] = [];
          for (let s = 0; s < CHECK_STEPS; s++) losses.push(await train(0));
          const check = checkTraining(losses);
          let i = 0;
          return {
            check,
            warmedUp: true,
            run: () => train(i++ % POOL),
            dispose: () => { tree.dispose([p, mom, state, xs, oh]); step.dispose(); },
          };
        }
        case "W3": {
          const { p } = params(jax, shared.params("layerNorm"));
          const xe = shared.evalInput();
          const x = np.array(xe).reshape([xe.length / INPUTS, INPUTS]);
          const predict = jit((p: Tree, x: Arr) => forward(jax, "layerNorm", p, x, false, null, null, {}));
          const run = () => predict(tree.ref(p), x.ref).dataSync();
          const out = run() as Float32Array;
          const rel = checkClose("logits", out.subarray(0, W3_CHECK_ROWS * CLASSES), shared.referenceLogits(), 1e-4);
          return { run, check: `logits vs f64 forward: ${rel.toExponential(1)}`, dispose: () => { tree.dispose([p, x]); predict.dispose(); } };
        }
        case "W2u": return null; // kiln only (supports() is false)
        case "W4": {
          const d = shared.layerNorm();
          const rows = d.x.length / d.weight.length, cols = d.weight.length;
          const x = np.array(d.x).reshape([rows, cols]), wt = np.array(d.weight), bt = np.array(d.bias);
          const dy = np.array(d.dy).reshape([rows, cols]);
          const ln = (x: Arr, w: Arr, b: Arr) => nn.standardize(x, -1, { epsilon: EPS }).mul(w).add(b);
          const fb = jit((x: Arr, w: Arr, b: Arr, dy: Arr) => {
            const [y, pull] = vjp(ln, [x, w, b]);
            const [dx, dw, db] = pull(dy) as [Arr, Arr, Arr];
            pull.dispose();
            return [y, dx, dw, db] as [Arr, Arr, Arr, Arr];
          });
          const once = () => fb(x.ref, wt.ref, bt.ref, dy.ref);
          const [y, dx, dw, db] = once().map((a) => a.dataSync() as Float32Array);
          const check = checkLayerNorm({ y: y!, dx: dx!, dw: dw!, db: db! }, shared.layerNormReference());
          const run = async () => { const outs = once(); await blockUntilReady(outs); tree.dispose(outs); };
          return { run, check, dispose: () => { tree.dispose([x, wt, bt, dy]); fb.dispose(); } };
        }
      }
    },
  };
}
