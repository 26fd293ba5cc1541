/**
 * The benchmark workloads, their shared deterministic data, the float64 references every peer is
 * checked against.
 *
 * Every peer runs the same math on the same numbers: the same initial parameters (generated here,
 * PyTorch state-dict names and layouts), the same input batches, the same hyper-parameters. Only
 * dropout masks differ (each library draws its own).
 */
// ---------------------------------------------------------------------------------------------
// Workload definitions
// ---------------------------------------------------------------------------------------------

export const W1_SIZES = [256, 512, 1024] as const;
export const BATCH = 128;
export const INPUTS = 784;
export const HIDDEN = 512;
export const CLASSES = 10;
export const DROP = 0.1;
export const LR = 0.01;
export const MOMENTUM = 0.9;
export const WEIGHT_DECAY = 1e-4;
export const EPS = 1e-5;
/** PyTorch's BatchNorm running-statistics momentum. */
export const BN_MOMENTUM = 0.1;
export const W3_BATCH = 1024;
export const W4_ROWS = 256;
export const W4_COLS = 1024;
/** Distinct training batches cycled through while timing W2/W2b (so no peer trains to zero loss). */
export const POOL = 8;
/** Steps of the W2/W2b training check. */
export const CHECK_STEPS = 20;

export type Group = "W1" | "W2" | "W2b" | "W3" | "W4" | "W2u";
/** W2u: W2 with a user-written activation in place of relu (kiln only: the open DSL, issue 10). */
export type UserActivation = "relu2" | "gelu" | "swish";
export type Unit = "GFLOP/s" | "samples/s" | "µs" | "ms";
export type Norm = "layerNorm" | "batchNorm";

export interface Workload {
  /** "W1-256", "W2", … */
  readonly id: string;
  readonly group: Group;
  readonly title: string;
  readonly unit: Unit;
  /** true for throughput units; µs per run is lower-is-better. */
  readonly higherIsBetter: boolean;
  /** W1 only: the matrix size. */
  readonly n?: number;
  /** W2u only: the activation written with kiln's tensor expressions, in relu's place. */
  readonly activation?: UserActivation;
  /** Measured for kiln alone (the peers have no user-code layers to compare). */
  readonly kilnOnly?: boolean;
  /** Seconds per run → the workload's unit. */
  readonly toUnit: (seconds: number) => number;
}

export const WORKLOADS: readonly Workload[] = [
  ...W1_SIZES.map((n): Workload => ({
    id: `W1-${n}`, group: "W1", n, unit: "GFLOP/s", higherIsBetter: true,
    title: `sgemm C = A·B, ${n}×${n}`,
    toUnit: (s) => (2 * n ** 3) / s / 1e9,
  })),
  {
    id: "W2", group: "W2", unit: "samples/s", higherIsBetter: true,
    title: `train step, MLP 784-512-512-10 + layerNorm + dropout, SGD momentum, batch ${BATCH}`,
    toUnit: (s) => BATCH / s,
  },
  {
    id: "W2b", group: "W2b", unit: "samples/s", higherIsBetter: true,
    title: `train step, same MLP with batchNorm, batch ${BATCH}`,
    toUnit: (s) => BATCH / s,
  },
  {
    id: "W3", group: "W3", unit: "samples/s", higherIsBetter: true,
    title: `eval forward of the W2 model, batch ${W3_BATCH}`,
    toUnit: (s) => W3_BATCH / s,
  },
  ...([
    ["relu2", `fn("relu2", x => x.maximum(0))`],
    ["gelu", "gelu (erf form, a built-in fn of primitives)"],
    ["swish", `fn("swish", x => x.mul(x.sigmoid()))`],
  ] as const).map(([activation, what]): Workload => ({
    id: `W2-${activation}`, group: "W2u", unit: "samples/s", higherIsBetter: true, activation, kilnOnly: true,
    title: `W2 with ${what} in place of relu (kiln only; compare with kiln's W2)`,
    toUnit: (s) => BATCH / s,
  })),
  {
    id: "W4", group: "W4", unit: "µs", higherIsBetter: false,
    title: `layerNorm (affine) forward + backward, ${W4_ROWS}×${W4_COLS}`,
    toUnit: (s) => s * 1e6,
  },
];

// ---------------------------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------------------------

/** mulberry32: a small seeded uniform generator in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export interface ParamSpec {
  /** PyTorch state-dict name, e.g. "0.weight" ([out, in]) or "1.running_mean". */
  readonly name: string;
  readonly shape: readonly number[];
  /** "param": trained; "state": batchNorm running statistics. */
  readonly kind: "param" | "state";
}

/** Layer indices of seq(linear, norm, relu, dropout, linear, norm, relu, dropout, linear). */
export const LINEARS = [
  { index: 0, in: INPUTS, out: HIDDEN },
  { index: 4, in: HIDDEN, out: HIDDEN },
  { index: 8, in: HIDDEN, out: CLASSES },
] as const;
export const NORMS = [1, 5] as const;

export function mlpSpecs(norm: Norm): ParamSpec[] {
  const specs: ParamSpec[] = [];
  for (const l of LINEARS) {
    specs.push({ name: `${l.index}.weight`, shape: [l.out, l.in], kind: "param" });
    specs.push({ name: `${l.index}.bias`, shape: [l.out], kind: "param" });
    const n = NORMS.find((i) => i === l.index + 1);
    if (n !== undefined) {
      specs.push({ name: `${n}.weight`, shape: [HIDDEN], kind: "param" });
      specs.push({ name: `${n}.bias`, shape: [HIDDEN], kind: "param" });
      if (norm === "batchNorm") {
        specs.push({ name: `${n}.running_mean`, shape: [HIDDEN], kind: "state" });
        specs.push({ name: `${n}.running_var`, shape: [HIDDEN], kind: "state" });
      }
    }
  }
  return specs;
}

/**
 * Initial parameters shared by every peer: linear weight and bias U(−1/√in, 1/√in) (PyTorch's
 * default), norm weight 1 and bias 0, running mean 0 and variance 1.
 */
export function initialParams(norm: Norm): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  mlpSpecs(norm).forEach((s, i) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const [layer, field] = s.name.split(".") as [string, string];
    const lin = LINEARS.find((l) => String(l.index) === layer);
    if (lin) {
      const bound = 1 / Math.sqrt(lin.in);
      out[s.name] = uniform(size, 1000 + i, -bound, bound);
    } else {
      out[s.name] = new Float32Array(size).fill(field === "weight" || field === "running_var" ? 1 : 0);
    }
  });
  return out;
}

export interface TrainData {
  /** POOL batches of BATCH×INPUTS features in [0, 1). */
  readonly xs: Float32Array[];
  /** POOL batches of BATCH labels in [0, CLASSES). */
  readonly labels: Int32Array[];
}

export function trainData(): TrainData {
  const xs: Float32Array[] = [];
  const labels: Int32Array[] = [];
  for (let b = 0; b < POOL; b++) {
    xs.push(uniform(BATCH * INPUTS, 2000 + b));
    const r = rng(3000 + b);
    labels.push(Int32Array.from({ length: BATCH }, () => Math.floor(r() * CLASSES)));
  }
  return { xs, labels };
}

export const evalInput = (): Float32Array => uniform(W3_BATCH * INPUTS, 4000);

export function sgemmData(n: number): { a: Float32Array; b: Float32Array } {
  return { a: uniform(n * n, 5000 + n, -1, 1), b: uniform(n * n, 6000 + n, -1, 1) };
}

export interface LayerNormData {
  readonly x: Float32Array;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** Upstream gradient dL/dy. */
  readonly dy: Float32Array;
}

export function layerNormData(): LayerNormData {
  const x = uniform(W4_ROWS * W4_COLS, 7000, -2, 2);
  const weight = uniform(W4_COLS, 7001, 0.5, 1.5);
  const bias = uniform(W4_COLS, 7002, -0.5, 0.5);
  const dy = uniform(W4_ROWS * W4_COLS, 7003, -1, 1);
  return { x, weight, bias, dy };
}

/** Row-major [rows, cols] → [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

// ---------------------------------------------------------------------------------------------
// References and checks (a failed check throws: that peer gets no number)
// ---------------------------------------------------------------------------------------------

export class CheckError extends Error {}

/** Max |got − ref| over max |ref|; throws above tol. */
export function checkClose(what: string, got: ArrayLike<number>, ref: ArrayLike<number>, tol: number): number {
  if (got.length !== ref.length) throw new CheckError(`${what}: ${got.length} values, expected ${ref.length}`);
  let err = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i]! - ref[i]!);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  const rel = err / (scale || 1);
  if (!(rel <= tol)) throw new CheckError(`${what}: max error ${rel.toExponential(2)} of the largest value (tolerance ${tol})`);
  return rel;
}

/** Spot-check 64 entries of C = A·B against float64 dot products. */
export function checkSgemm(n: number, a: Float32Array, b: Float32Array, c: ArrayLike<number>): string {
  if (c.length !== n * n) throw new CheckError(`C has ${c.length} values, expected ${n * n}`);
  const r = rng(8000 + n);
  const got: number[] = [], ref: number[] = [];
  for (let k = 0; k < 64; k++) {
    const i = Math.floor(r() * n), j = Math.floor(r() * n);
    let s = 0;
    for (let p = 0; p < n; p++) s += a[i * n + p]! * b[p * n + j]!;
    got.push(c[i * n + j]!);
    ref.push(s);
  }
  const rel = checkClose("C = A·B (64 entries)", got, ref, 1e-4);
  return `64 entries of C vs f64: ${rel.toExponential(1)}`;
}

/** The training check: finite losses that go down over CHECK_STEPS steps on one batch. */
export function checkTraining(losses: readonly number[]): string {
  if (losses.length < 2 || !losses.every(Number.isFinite)) throw new CheckError(`non-finite loss: ${losses.join(", ")}`);
  const k = Math.min(5, Math.floor(losses.length / 2));
  const head = losses.slice(0, k).reduce((a, b) => a + b) / k;
  const tail = losses.slice(-k).reduce((a, b) => a + b) / k;
  const first = losses[0]!, last = losses[losses.length - 1]!;
  if (!(last < first && tail < head)) throw new CheckError(`loss did not decrease over ${losses.length} steps: ${first.toFixed(4)} → ${last.toFixed(4)}`);
  return `loss ${first.toFixed(3)} → ${last.toFixed(3)} in ${losses.length} steps`;
}

function layerNormRows(h: Float64Array, rows: number, n: number, w: ArrayLike<number>, b: ArrayLike<number>): void {
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < n; j++) m += h[r * n + j]!;
    m /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (h[r * n + j]! - m) ** 2;
    const s = 1 / Math.sqrt(v / n + EPS);
    for (let j = 0; j < n; j++) h[r * n + j] = (h[r * n + j]! - m) * s * w[j]! + b[j]!;
  }
}

/**
 * Float64 eval forward of the layerNorm MLP (dropout is the identity) on the first `rows`
 * samples of x: the W3 reference, also the independent check of kiln's own predict.
 */
export function referenceLogits(params: Record<string, Float32Array>, x: Float32Array, rows: number): Float64Array {
  let h: Float64Array = Float64Array.from(x.subarray(0, rows * INPUTS));
  let width = INPUTS;
  for (const l of LINEARS) {
    const w = params[`${l.index}.weight`]!, bias = params[`${l.index}.bias`]!;
    const y = new Float64Array(rows * l.out);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < l.out; o++) {
        let s = bias[o]!;
        for (let i = 0; i < width; i++) s += h[r * width + i]! * w[o * width + i]!;
        y[r * l.out + o] = s;
      }
    }
    h = y;
    width = l.out;
    if (l.index !== 8) {
      layerNormRows(h, rows, width, params[`${l.index + 1}.weight`]!, params[`${l.index + 1}.bias`]!);
      for (let i = 0; i < h.length; i++) h[i] = Math.max(0, h[i]!);
    }
  }
  return h;
}

/** Rows of the W3 reference compared with each peer's output. */
export const W3_CHECK_ROWS = 16;

export interface LayerNormResult {
  readonly y: ArrayLike<number>;
  readonly dx: ArrayLike<number>;
  readonly dw: ArrayLike<number>;
  readonly db: ArrayLike<number>;
}

/** Float64 layerNorm forward and backward (dx, dweight, dbias) for the upstream dy. */
export function referenceLayerNorm(d: LayerNormData): { y: Float64Array; dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const R = W4_ROWS, N = W4_COLS;
  const y = new Float64Array(R * N), dx = new Float64Array(R * N), dw = new Float64Array(N), db = new Float64Array(N);
  const xhat = new Float64Array(N), g = new Float64Array(N);
  for (let r = 0; r < R; r++) {
    let m = 0;
    for (let j = 0; j < N; j++) m += d.x[r * N + j]!;
    m /= N;
    let v = 0;
    for (let j = 0; j < N; j++) v += (d.x[r * N + j]! - m) ** 2;
    const s = 1 / Math.sqrt(v / N + EPS);
    let mg = 0, mgx = 0;
    for (let j = 0; j < N; j++) {
      xhat[j] = (d.x[r * N + j]! - m) * s;
      y[r * N + j] = xhat[j]! * d.weight[j]! + d.bias[j]!;
      const up = d.dy[r * N + j]!;
      dw[j] += up * xhat[j]!;
      db[j] += up;
      g[j] = up * d.weight[j]!;
      mg += g[j]!;
      mgx += g[j]! * xhat[j]!;
    }
    mg /= N;
    mgx /= N;
    for (let j = 0; j < N; j++) dx[r * N + j] = (g[j]! - mg - xhat[j]! * mgx) * s;
  }
  return { y, dx, dw, db };
}

export function checkLayerNorm(got: LayerNormResult, ref: ReturnType<typeof referenceLayerNorm>): string {
  const e = Math.max(
    checkClose("layerNorm y", got.y, ref.y, 1e-4),
    checkClose("layerNorm dx", got.dx, ref.dx, 1e-3),
    checkClose("layerNorm dweight", got.dw, ref.dw, 1e-3),
    checkClose("layerNorm dbias", got.db, ref.db, 1e-3),
  );
  return `y, dx, dw, db vs f64: ${e.toExponential(1)}`;
}
