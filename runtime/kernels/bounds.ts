/**
 * Prepare-time bounds checks for kernels that write through byte offsets (WebAssembly, worker
 * threads): a call whose numeric parameters say it touches more floats than its buffer holds is
 * refused with a KilnError when the program is made, so it can never write past its buffer into
 * a neighbour's memory at run time.
 */
import { KilnError } from "../errors.js";

/** `view` must hold at least `floats` elements for `kernel`'s use as `what`. */
export function fits(kernel: string, what: string, view: { readonly length: number } | undefined, floats: number): void {
  if (view === undefined) throw new KilnError(`${kernel}: missing buffer ${what}`);
  if (!Number.isSafeInteger(floats) || floats < 0 || view.length < floats) {
    throw new KilnError(`${kernel}: ${what} holds ${view.length} floats, but the call would touch ${floats}`);
  }
}

/**
 * Every buffer of a call at least as long as the call needs: `lengths[i]` floats in `bufs[i]`,
 * named `names[i]` in the message (default "buffer i").
 */
export function fitsAll(kernel: string, bufs: readonly { readonly length: number }[], lengths: readonly number[], names?: readonly string[]): void {
  if (bufs.length !== lengths.length) throw new KilnError(`${kernel}: expected ${lengths.length} buffers, got ${bufs.length}`);
  lengths.forEach((n, i) => fits(kernel, names?.[i] ?? `buffer ${i}`, bufs[i], n));
}

/** A scratch region of `capacity` bytes must hold `bytes` more for `kernel`. */
export function fitsScratch(kernel: string, bytes: number, capacity: number): void {
  if (bytes > capacity) throw new KilnError(`${kernel}: needs ${bytes} bytes of scratch, the thread has ${capacity}`);
}
