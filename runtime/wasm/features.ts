/**
 * Optional WebAssembly features the kernels can use, detected once per process.
 *
 * Relaxed SIMD's `f32x4.relaxed_madd` is a·b + c computed by the engine's best instruction: on
 * x86 with FMA3 (and on ARM64) one fused multiply-add, rounding once. The SGEMM micro-kernel
 * uses it when it is available and really fused (see microkernel.ts); otherwise it keeps the
 * core-SIMD multiply and add.
 *
 * Availability: Node ≥ 21 (V8 ≥ 11.4) has relaxed SIMD on by default. Node 20 (V8 11.3) has it
 * behind `--experimental-wasm-relaxed-simd`; the flag can be set at run time, before the first
 * module that uses it is compiled, with `v8.setFlagsFromString`. kiln does that when the probe
 * module below fails to validate. The decision, and why it is acceptable:
 *   - the flag is a V8 feature flag for a finished proposal (standardized, part of Wasm 3.0),
 *     shipped unflagged from V8 11.4 (Chrome 114, Node 21) with the same opcodes and semantics —
 *     not an experiment whose encoding may still change;
 *   - it only makes extra opcodes valid: modules that do not use them compile and run exactly
 *     as before, in this thread and in workers (V8 flags are process-wide);
 *   - `KILN_RELAXED_SIMD=0` opts out: no flag is set and relaxed SIMD is not used even where
 *     the engine has it natively, giving the core-SIMD kernels (IEEE multiply and add: the same
 *     bits on every machine, where relaxed_madd's rounding depends on the hardware).
 *
 * Determinism: the engine resolves relaxed_madd once per process (the baseline compiler and the
 * optimizing one use the same instruction), so results stay bit-identical across threads and
 * row splits; they differ in the last bits from the core-SIMD variant (and so between machines
 * with and without FMA, and from results kiln computed before it used FMA).
 */
import { envFlag, envSetting, hasNodeBuiltins, nodeBuiltin } from "../host.js";
import { ModuleBuilder } from "./builder.js";
import { f32x4, get, stmt } from "./emit.js";

export interface WasmFeatures {
  /** Relaxed SIMD validates (natively or after setting the V8 flag). */
  readonly relaxedSimd: boolean;
  /** relaxed_madd rounds once (hardware FMA): the kernels emit it. */
  readonly fma: boolean;
  /**
   * How relaxed SIMD was found: on by default ("native"), enabled by kiln with the V8 flag
   * ("flag"), turned off with KILN_RELAXED_SIMD=0 ("disabled"), or not supported ("unavailable").
   */
  readonly relaxedSimdSource: "native" | "flag" | "disabled" | "unavailable";
}

/** `probe(a, b, c) = lane 0 of relaxed_madd(splat a, splat b, splat c)`, as module bytes. */
export function relaxedProbeBytes(): Uint8Array {
  const m = new ModuleBuilder();
  const f = m.func("probe", ["f32", "f32", "f32"], ["f32"]);
  const [a, b, c] = [f.param(0, "f32"), f.param(1, "f32"), f.param(2, "f32")];
  f.body(stmt(f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(get(a)), f32x4.splat(get(b)), f32x4.splat(get(c))), 0)));
  return m.encode();
}

/**
 * Whether relaxed_madd fuses: with a = b = 1 + 2⁻¹², a·b = 1 + 2⁻¹¹ + 2⁻²⁴ exactly, which
 * rounds to 1 + 2⁻¹¹ in f32. Adding c = −(1 + 2⁻¹¹) leaves 2⁻²⁴ when fused, 0 when not.
 */
function maddIsFused(bytes: Uint8Array): boolean {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const probe = inst.exports["probe"] as (a: number, b: number, c: number) => number;
  const x = 1 + 2 ** -12;
  return probe(x, x, -(1 + 2 ** -11)) === 2 ** -24;
}

function detect(): WasmFeatures {
  const bytes = relaxedProbeBytes();
  const off = !envSetting("KILN_RELAXED_SIMD", "1 or 0", true, envFlag);
  if (off) return { relaxedSimd: false, fma: false, relaxedSimdSource: "disabled" };
  let source: WasmFeatures["relaxedSimdSource"] = "native";
  if (!WebAssembly.validate(bytes)) {
    source = "flag";
    try {
      // Node only (a browser enables what it supports itself)
      if (hasNodeBuiltins()) nodeBuiltin<typeof import("node:v8")>("node:v8", "V8 flags").setFlagsFromString("--experimental-wasm-relaxed-simd");
    } catch {
      // not V8, or flags locked: fall through to "unavailable"
    }
    if (!WebAssembly.validate(bytes)) return { relaxedSimd: false, fma: false, relaxedSimdSource: "unavailable" };
  }
  let fma = false;
  try {
    fma = maddIsFused(bytes);
  } catch {
    // validated but failed to compile or run: treat as unavailable for the kernels
  }
  return { relaxedSimd: true, fma, relaxedSimdSource: source };
}

let detected: WasmFeatures | undefined;
/** The features of this process's engine (detected on first call; may set a V8 flag, see above). */
export function wasmFeatures(): WasmFeatures {
  return (detected ??= detect());
}
