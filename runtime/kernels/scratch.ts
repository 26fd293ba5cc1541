/**
 * One float64 scratch buffer shared by the reference kernels (accumulators), grown on demand and
 * then reused, so steady-state runs allocate nothing. Kernels run one at a time per thread.
 */
let buf = new Float64Array(1024);

export function scratch(n: number): Float64Array {
  if (buf.length < n) buf = new Float64Array(Math.max(n, buf.length * 2));
  return buf;
}
