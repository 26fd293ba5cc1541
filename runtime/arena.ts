/**
 * One arena per network: a shared WebAssembly memory holding its parameters, state and optimizer
 * buffers (persistent, allocated once at compile time) followed by one scratch region that every
 * program of the network reuses (programs run one at a time). Kernels see typed-array views; WASM
 * kernels and worker threads see the same bytes.
 *
 * Shared memory never detaches on growth, so views handed to users (net.params) stay valid when
 * a larger eval batch grows the scratch region.
 */
import { KilnError } from "./errors.js";
import type { KernelContext } from "./kernels/types.js";
import { acquirePool, type PoolLease } from "./pool.js";
import { instantiateKernels, SGEMM_SCRATCH_BYTES } from "./wasm/module.js";

const PAGE = 65536;
/** wasm32 addresses 4 GiB; stay below so offsets fit in an i32 the kernels index with. */
const MAX_PAGES = 32768;
export const ALIGN = 64;

/** Releases the pool leases of networks nobody references any more. */
const finalizer = new FinalizationRegistry<() => void>((release) => release());

export const alignUp = (n: number, a = ALIGN): number => Math.ceil(n / a) * a;

export class Arena {
  readonly memory: WebAssembly.Memory;
  private persistentEnd = ALIGN; // offset 0 stays unused so a null offset is never valid
  private scratchBase: number | null = null;
  private scratchBytes = 0;
  private kernelContext: KernelContext | undefined;
  private lease: PoolLease | null = null;
  private disposed = false;
  /** Each thread's private sgemm packing buffers (part of the persistent region). */
  private readonly sgemmScratch: readonly number[];

  /** `threads`: how many threads this network's kernels may use (the caller's included). */
  constructor(readonly threads = 1, initialBytes = PAGE) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new KilnError(`threads must be an integer in [1, 64], got ${String(threads)}`);
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(initialBytes / PAGE), maximum: MAX_PAGES, shared: true });
    this.sgemmScratch = Array.from({ length: threads }, () => this.allocPersistent(SGEMM_SCRATCH_BYTES));
  }

  /** The WebAssembly kernels on this memory, the scratch and the thread pool (made on first use). */
  get context(): KernelContext {
    if (this.disposed) throw new KilnError("arena: used after it was released (the network was disposed)");
    if (!this.kernelContext) {
      this.lease = this.threads > 1 ? acquirePool(this.threads, this.memory) : null;
      const pool = this.lease?.pool ?? null;
      this.kernelContext = {
        memory: this.memory,
        wasm: instantiateKernels(this.memory),
        sgemmScratch: this.sgemmScratch,
        pool: pool && { threads: this.threads, run: pool.run.bind(pool) },
      };
    }
    return this.kernelContext;
  }

  /**
   * Give back what the arena holds outside itself: its lease on the thread pool (the workers
   * drop their instances on this memory). Idempotent; any later use of `context` is an error.
   */
  release(): void {
    this.disposed = true;
    this.lease?.release();
    this.lease = null;
    this.kernelContext = undefined;
  }

  get released(): boolean {
    return this.disposed;
  }

  /**
   * Release this arena when `owner` (the network) is garbage-collected, for owners that are
   * dropped without `dispose()`. The registry holds the lease, not the owner or the arena.
   */
  releaseWith(owner: object): void {
    finalizer.register(owner, () => this.lease?.release(), this);
  }

  /** Forget `releaseWith` (the owner was disposed explicitly). */
  unregister(): void {
    finalizer.unregister(this);
  }

  /** Reserve `bytes` for a buffer that lives as long as the network (params, state, optimizer). */
  allocPersistent(bytes: number): number {
    if (this.scratchBase !== null) throw new KilnError("arena: persistent buffers must be allocated before any program runs");
    const offset = this.persistentEnd;
    this.persistentEnd = alignUp(offset + bytes);
    this.ensure(this.persistentEnd);
    return offset;
  }

  /** Base offset of a scratch region of at least `bytes` (grown if needed, shared by all programs). */
  scratch(bytes: number): number {
    this.scratchBase ??= alignUp(this.persistentEnd, 4096);
    this.scratchBytes = Math.max(this.scratchBytes, bytes);
    this.ensure(this.scratchBase + this.scratchBytes);
    return this.scratchBase;
  }

  /** Total bytes in use (persistent + scratch). */
  get bytes(): number {
    return (this.scratchBase ?? this.persistentEnd) + this.scratchBytes;
  }

  f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, offset, length);
  }

  i32(offset: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, offset, length);
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) {
      throw new KilnError(`arena: ${end} bytes exceed the ${MAX_PAGES * PAGE}-byte limit of one network's memory`);
    }
    this.memory.grow(pages);
  }
}
