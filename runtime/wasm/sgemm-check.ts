/**
 * checkNumerics in the products: `finiteBlock(y, ldBytes, rows, cols)` → 1 if every float of the
 * rows × cols block at byte offset y (row pitch ldBytes) is finite, else 0. The sgemm calls it on
 * each block of Y right after computing it (macroKernel with a check address), so each thread
 * checks what it computed while it is in its own cache, and no pass over all of Y follows; the
 * gemv checks its outputs (one row) with it too.
 *
 * v − v is +0 exactly when v is finite and NaN otherwise, so the or of the bits of v − v over the
 * block is 0 exactly when all of it is finite; four accumulators keep four loads in flight.
 * Measured against a check of every 4×8 tile as the micro-kernel stores it (one thread, W7's and
 * W2's product shapes, near-minimum of 61): per tile +3.4–8.8% and +3.2% on W2's weight gradient,
 * where this loop over the block costs about what a pass over Y afterwards does (+1.6–2.3%).
 */
import type { ModuleBuilder } from "./builder.js";
import { f32, f32x4, forRange, get, i32, i32x4, set, stmt, v128, type FuncRef } from "./emit.js";

/** The module's finiteBlock (emitted on first use; the sgemm and the gemv share it). */
const emitted = new WeakMap<ModuleBuilder, FuncRef>();

export function emitFiniteBlock(m: ModuleBuilder): FuncRef {
  let ref = emitted.get(m);
  if (!ref) emitted.set(m, (ref = emit(m)));
  return ref;
}

function emit(m: ModuleBuilder): FuncRef {
  const f = m.func("finiteBlock", ["i32", "i32", "i32", "i32"], ["i32"], false);
  const [y, ld, rows, cols] = f.i32Params();
  const r = f.local("i32"), j = f.local("i32"), row = f.local("i32"), end16 = f.local("i32"), end4 = f.local("i32");
  const s = f.local("i32"), x = f.local("f32");
  const acc = f.locals("v128", 4), v = f.locals("v128", 4);
  const at = i32.add(get(row), i32.mul(get(j), i32.const(4)));
  const bits = (k: number) => [set(v[k]!, v128.load(at, 16 * k)), set(acc[k]!, v128.or(get(acc[k]!), f32x4.sub(get(v[k]!), get(v[k]!))))];
  const all = v128.or(v128.or(get(acc[0]!), get(acc[1]!)), v128.or(get(acc[2]!), get(acc[3]!)));
  f.body(
    ...acc.map((a) => set(a, v128.zero())), set(s, i32.const(0)),
    set(end16, i32.and(get(cols), i32.const(-16))), set(end4, i32.and(get(cols), i32.const(-4))),
    forRange(r, i32.const(0), get(rows), 1,
      set(row, i32.add(get(y), i32.mul(get(r), get(ld)))),
      forRange(j, i32.const(0), get(end16), 16, ...[0, 1, 2, 3].flatMap(bits)),
      forRange(j, get(end16), get(end4), 4, ...bits(0)),
      forRange(j, get(end4), get(cols), 1,
        set(x, f32.load(at)), set(s, i32.or(get(s), i32.reinterpret_f32(f32.sub(get(x), get(x))))))),
    set(acc[0]!, all),
    stmt(i32.eqz([0, 1, 2, 3].map((l) => i32x4.extract_lane(get(acc[0]!), l)).reduce((p, q) => i32.or(p, q), get(s)))), // the result, left on the stack
  );
  return f;
}
