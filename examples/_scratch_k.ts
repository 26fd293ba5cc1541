import { normBackward, normForward } from "../runtime/kernels/norm.js";
import { softmaxXent } from "../runtime/kernels/xent.js";
const B = 128, N = 512;
const r = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const x = r(B * N), g = r(N), b = r(N), y = new Float32Array(B * N), dy = r(B * N), dx = new Float32Array(B * N);
const st = (n: number) => new Float32Array(n);
const time = (name: string, f: () => void) => { for (let i = 0; i < 200; i++) f(); let best = Infinity; for (let k = 0; k < 20; k++) { const t = performance.now(); for (let i = 0; i < 50; i++) f(); best = Math.min(best, (performance.now() - t) / 50); } console.log(name, best.toFixed(3), "ms"); };
for (const axis of [1, 0]) {
  const s = axis === 1 ? B : N;
  const m = st(s), rs = st(s), v = st(s), dg = st(N), db = st(N);
  time(`fwd axis ${axis}`, () => normForward([x, g, b, y, m, rs, v], [B, N, axis, 1e-5, 1, 0]));
  time(`bwd axis ${axis}`, () => normBackward([dy, x, m, rs, g, dx, dg, db], [B, N, axis, 1]));
}
const z = r(B * 10), lab = Int32Array.from({ length: B }, (_, i) => i % 10), loss = st(1), dz = st(B * 10);
time("xent", () => softmaxXent([z, lab, loss, dz], [B, 10, -1 / B, -1 / B]));
import { normalize } from "../runtime/kernels/reduce.js";
time("ref normalize axis1", () => normalize([x, y], [B, N, 1, 1e-5]));
time("ref normalize axis0", () => normalize([x, y], [1, B, N, 1e-5]));
time("copy-ish loop", () => { for (let i = 0; i < B * N; i++) y[i] = x[i]! * g[i & 511]! + b[i & 511]!; });
