/**
 * WebAssembly opcodes kiln emits, named as in the spec's text format (`i32.add` → `I32.add`).
 * Core opcodes are one byte; SIMD opcodes follow the 0xFD prefix as a LEB128 u32 (see emit.ts).
 * Only what the kernels use is listed; the numbers are from the core spec §5.4 and the
 * fixed-width SIMD proposal's binary table.
 */

/** Value types (§5.3.1). */
export const VALTYPE = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;

/** Module layout markers. */
export const MAGIC = [0x00, 0x61, 0x73, 0x6d] as const; // "\0asm"
export const VERSION = [0x01, 0x00, 0x00, 0x00] as const;
export const SECTION = { type: 1, import: 2, function: 3, export: 7, code: 10 } as const;
export const FUNCTYPE = 0x60;
export const EXTERN = { func: 0x00, memory: 0x02 } as const;
/** Memory limits flags: bit 0 = has maximum, bit 1 = shared (threads proposal). */
export const LIMITS = { min: 0x00, minMax: 0x01, sharedMinMax: 0x03 } as const;
/** Block type of a block/loop/if that takes and leaves nothing. */
export const BLOCKTYPE_EMPTY = 0x40;

/** Control and variable instructions. */
export const CTL = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
} as const;

/** i32 instructions (loads/stores take a memarg: align log2, offset). */
export const I32 = {
  load: 0x28, store: 0x36, const: 0x41,
  eqz: 0x45, eq: 0x46, ne: 0x47, lt_s: 0x48, lt_u: 0x49, gt_s: 0x4a, gt_u: 0x4b,
  le_s: 0x4c, le_u: 0x4d, ge_s: 0x4e, ge_u: 0x4f,
  add: 0x6a, sub: 0x6b, mul: 0x6c, div_s: 0x6d, div_u: 0x6e, rem_u: 0x70,
  and: 0x71, or: 0x72, xor: 0x73, shl: 0x74, shr_s: 0x75, shr_u: 0x76,
  trunc_f32_s: 0xa8,
  reinterpret_f32: 0xbc,
} as const;

/** f32 scalar instructions. */
export const F32 = {
  load: 0x2a, store: 0x38, const: 0x43,
  eq: 0x5b, ne: 0x5c, lt: 0x5d, gt: 0x5e, le: 0x5f, ge: 0x60,
  abs: 0x8b, neg: 0x8c, floor: 0x8e, nearest: 0x90, sqrt: 0x91,
  add: 0x92, sub: 0x93, mul: 0x94, div: 0x95, min: 0x96, max: 0x97,
  convert_i32_s: 0xb2,
  demote_f64: 0xb6,
  reinterpret_i32: 0xbe,
} as const;

/** f64 scalar instructions (used for the few per-row values computed in double, e.g. log). */
export const F64 = {
  const: 0x44,
  gt: 0x64,
  add: 0xa0, sub: 0xa1, mul: 0xa2, div: 0xa3,
  convert_i32_s: 0xb7,
  promote_f32: 0xbb,
} as const;

/**
 * Atomic instructions (threads proposal), each encoded as 0xFE followed by this number as LEB128
 * u32 and a memarg whose alignment must be the access's natural one. Valid on shared memory.
 */
export const ATOMIC_PREFIX = 0xfe;
export const ATOMIC = { i32_load: 0x10, i32_rmw_add: 0x1e, i32_rmw_cmpxchg: 0x48 } as const;

/** SIMD instructions, each encoded as 0xFD followed by this number as LEB128 u32. */
export const SIMD_PREFIX = 0xfd;
export const V128 = {
  load: 0x00,
  load32_splat: 0x09, // one f32/i32 from memory, copied to all four lanes
  store: 0x0b,
  const: 0x0c, // followed by 16 immediate bytes
  i8x16_shuffle: 0x0d, // followed by 16 lane indices into the 32 bytes of (a, b)
  not: 0x4d, and: 0x4e, andnot: 0x4f, or: 0x50, xor: 0x51,
  bitselect: 0x52, // (a & c) | (b & ~c)
  any_true: 0x53, // i32: 1 if any bit of the vector is set
} as const;

export const F32X4 = {
  splat: 0x13,
  extract_lane: 0x1f,
  replace_lane: 0x20,
  eq: 0x41, ne: 0x42, lt: 0x43, gt: 0x44, le: 0x45, ge: 0x46,
  ceil: 0x67, floor: 0x68, trunc: 0x69, nearest: 0x6a,
  abs: 0xe0, neg: 0xe1, sqrt: 0xe3,
  add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7,
  min: 0xe8, max: 0xe9,
  // Pseudo-min/max: pmin(a, b) = b < a ? b : a, pmax(a, b) = a < b ? b : a. Unlike min/max they
  // are one x86 instruction (minps/maxps) and map NaN to a chosen side, which is what relu wants.
  pmin: 0xea, pmax: 0xeb,
  convert_i32x4_s: 0xfa,
  // Relaxed SIMD (a finished proposal, standardized in Wasm 3.0): a·b + c, fused (one rounding)
  // where the hardware has FMA, else a separate multiply and add. See features.ts.
  relaxed_madd: 0x105, relaxed_nmadd: 0x106,
} as const;

export const I32X4 = {
  splat: 0x11,
  extract_lane: 0x1b, replace_lane: 0x1c,
  ge_s: 0x3f,
  shl: 0xab, shr_s: 0xac, shr_u: 0xad,
  add: 0xae, sub: 0xb1, mul: 0xb5,
  trunc_sat_f32x4_s: 0xf8,
} as const;
