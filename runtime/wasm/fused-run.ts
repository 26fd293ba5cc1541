/**
 * Running fused elementwise modules (fused.ts) in an arena: each distinct module is compiled once
 * (while it stays among the most recently used) and instantiated once per memory; a call site
 * binds its buffers' byte offsets once, so a run is one call into WebAssembly with no allocation.
 */
import { Lru } from "../lru.js";

const modules = new Lru<string, { bytes: Uint8Array; module: WebAssembly.Module }[]>("fused wasm modules", 256);
type Exports = Record<string, (...args: number[]) => number | undefined>;
/** A fused loop's module and its exports on one memory. */
export interface FusedInstance { readonly module: WebAssembly.Module; readonly exports: Exports }
const instances = new WeakMap<WebAssembly.Memory, Map<WebAssembly.Module, FusedInstance>>();

/** The module of these bytes instantiated on `memory` (one instance per module and memory; the bytes hashed once). */
export function fusedInstance(bytes: Uint8Array, memory: WebAssembly.Memory): FusedInstance {
  const module = fusedModule(bytes);
  let perMemory = instances.get(memory);
  if (!perMemory) instances.set(memory, (perMemory = new Map()));
  let inst = perMemory.get(module);
  if (!inst) perMemory.set(module, (inst = { module, exports: new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports }));
  return inst;
}

/** FNV-1a over the bytes and their length: the bucket; equal bytes are confirmed within it. */
function hashKey(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return `${bytes.length}:${(h >>> 0).toString(16)}`;
}

/** A plain loop: `every` with a callback per byte was 8 ms of a 130 ms compile() of the lecture's net. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The compiled module of these bytes (compiled on first request). */
export function fusedModule(bytes: Uint8Array): WebAssembly.Module {
  const key = hashKey(bytes);
  const bucket = modules.get(key) ?? [];
  let hit = bucket.find((e) => sameBytes(e.bytes, bytes));
  if (!hit) {
    hit = { bytes: bytes.slice(), module: new WebAssembly.Module(bytes) };
    bucket.push(hit);
    modules.set(key, bucket);
  }
  return hit.module;
}

/** A fused loop's parts (fused.ts splitOf), when its module has them: see runtime/kernels/chunks.ts. */
export interface FusedParts {
  readonly module: WebAssembly.Module;
  readonly part: (...args: number[]) => void;
  readonly extent: number;
  readonly unit: number;
  readonly work: number;
}

/** The parts of an instantiated loop; null for a loop that does not split (sums, checks). */
export function fusedParts({ module, exports }: FusedInstance): FusedParts | null {
  const part = exports["fusedPart"];
  if (!part) return null;
  const value = (name: string) => exports[name]!() as number;
  return { module, part, extent: value("fusedSplit"), unit: value("fusedUnit"), work: value("fusedWork") };
}

/**
 * The call of one kernel site: `views` are the inputs then the outputs, all views of `memory`
 * (their byteOffset is their address). Returns a closure with the offsets bound.
 */
export function prepareFused(bytes: Uint8Array, views: readonly ArrayBufferView[], memory: WebAssembly.Memory): () => void {
  return bindFused(fusedInstance(bytes, memory), views);
}

/** prepareFused on a loop already instantiated. */
export function bindFused(inst: FusedInstance, views: readonly ArrayBufferView[]): () => void {
  return (inst.exports["fused"] as (...offsets: number[]) => void).bind(null, ...views.map((v) => v.byteOffset)) as () => void;
}
