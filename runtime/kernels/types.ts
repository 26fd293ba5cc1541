/** Float buffers are float32 in normal programs and float64 in the gradient-check programs. */
export type FloatArray = Float32Array | Float64Array;
export type AnyArray = FloatArray | Int32Array;

/**
 * A kernel reads its inputs and writes its output, `bufs[bufs.length - 1]`, in place; `p` holds
 * its numeric parameters (shapes, axes, constants). It allocates nothing.
 */
export type Kernel = (bufs: readonly AnyArray[], p: readonly number[]) => void;
