import { Arena } from "../runtime/arena.js";
import { matmul } from "../runtime/kernels/matmul.js";
for (const threads of [1, 2]) {
  const arena = new Arena(threads, 64 << 20);
  const ctx = arena.context;
  const base = arena.scratch(16 << 20);
  const cases: [string, number, number, number, number, number][] = [["fc1 X·Wᵀ", 128, 512, 784, 0, 1], ["fc2", 128, 512, 512, 0, 1], ["dW=dYᵀX", 512, 784, 128, 1, 0], ["dX=dY·W", 128, 512, 512, 0, 0], ["1024³", 1024, 1024, 1024, 0, 0]];
  for (const [name, M, N, K, tA, tB] of cases) {
    const a = arena.f32(base, M * K), b = arena.f32(base + 4 * 1024 * 1024 * 1, K * N), y = arena.f32(base + 8 * 1024 * 1024, M * N);
    a.fill(0.5); b.fill(0.25);
    const call = matmul.prepare!([a, b, y], [M, N, K, tA, tB], ctx);
    for (let i = 0; i < 10; i++) call();
    const times: number[] = [];
    for (let i = 0; i < 30; i++) { const t = performance.now(); call(); times.push(performance.now() - t); }
    times.sort((p, q) => p - q);
    const med = times[15]!;
    console.log(`threads ${threads} ${name}: ${med.toFixed(3)} ms, ${(2 * M * N * K / med / 1e6).toFixed(1)} GFLOP/s`);
  }
}
process.exit(0);
