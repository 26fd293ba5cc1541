import { elementwiseSource } from "../compiler/ops/fused_elementwise.js";
import { compileKernel } from "../runtime/kernels/generated.js";
const attrs = { shape: [512, 784], code: [
  { op: "const", args: [], num: [0.0001] }, { op: "mul", args: [0, 4], num: [] }, { op: "add", args: [1, 5], num: [] },
  { op: "const", args: [], num: [0.9] }, { op: "mul", args: [2, 7], num: [] }, { op: "add", args: [8, 6], num: [] },
  { op: "mul", args: [9, 3], num: [] }, { op: "sub", args: [0, 10], num: [] }], outputs: [9, 11] } as any;
const src = elementwiseSource(attrs, [[512, 784], [512, 784], [512, 784], []]);
console.log(src);
const k = compileKernel(src);
for (const shared of [false, true]) {
  const mk = (n: number) => shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
  const n = 512 * 784; const bufs = [mk(n), mk(n), mk(n), mk(1), mk(n), mk(n)];
  for (let i = 0; i < 50; i++) k(bufs, []);
  const t = performance.now(); for (let i = 0; i < 100; i++) k(bufs, []); console.log(shared, ((performance.now() - t) / 100).toFixed(3), "ms");
}
