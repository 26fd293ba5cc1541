/**
 * The scope of one callback call (`fn`, `layer`, `lossFn` body): the builder its tensor
 * expressions emit into, its name in messages, and its phase. A tensor expression belongs to one
 * scope and is refused anywhere else, or after its callback returned.
 */
import type { GraphBuilder } from "../../compiler/ir/builder.js";
import { MAX_ELEMENTS } from "../../compiler/ir/graph.js";
import { fmtShape, size, type V } from "../../compiler/ir/types.js";
import { KilnError, ModelError } from "../../runtime/errors.js";
import { isFloat32, numberText } from "../options.js";
import { describe, isTensor, T } from "./tensor.js";

/**
 * What a layer body knows of the program being traced (train and eval are two traces of one
 * model, so a body may branch on `training`, as a PyTorch module on `self.training`).
 */
export interface Phase {
  /** True in the train step's and gradients' trace; false in predict's. */
  readonly training: boolean;
}

/**
 * The trace a body runs in: its phase, and how dropout draws a mask there (the next of the
 * model's dropout streams, numbered in trace order, so a body's dropout is reproducible).
 */
export interface Tracing extends Phase {
  /** x in eval (and at p = 0); in training x·mask, mask ∈ {0, 1/(1 − p)}. */
  dropout(x: V, p: number): V;
}

/** One callback call: the builder it emits into and its name in messages (`seq[2].fn[1] "swish"`). */
export class Scope {
  private open = true;
  /** `tracing` is absent in a loss body: it has no phase and draws no masks. */
  constructor(readonly b: GraphBuilder, readonly where: string, readonly tracing?: Tracing) {}

  /** The callback returned: its tensors may no longer be used. */
  close(): void {
    this.open = false;
  }

  fail(what: string): never {
    throw new ModelError(`${this.where}: ${what}`);
  }

  /** A tensor argument of an op: a T of this scope, or a number made a scalar constant. */
  operand(op: string, x: unknown): V {
    if (typeof x === "number") {
      // Finite as float32 too: a constant of 1e39 would be stored as ∞.
      if (!isFloat32(x)) this.fail(`${op}: expected a finite number, got ${numberText(x)}`);
      return this.b.scalar(x);
    }
    if (!isTensor(x)) this.fail(`${op}: expected a tensor expression or a number, got ${describe(x)}`);
    return this.own(op, x);
  }

  own(op: string, x: T): V {
    // x passed isTensor; a forged object with the mark but no scope is refused here too.
    if (x.scope !== this) this.fail(`${op}: a tensor from ${typeof x.scope?.where === "string" ? x.scope.where : "elsewhere"} (a body may use only its own inputs and numbers)`);
    if (!this.open) this.fail(`${op}: the tensor is used after its callback returned`);
    return x.v;
  }

  /** Run one emission; a shape-rule error or an oversized result becomes a ModelError naming the layer. */
  emit(op: string, f: (b: GraphBuilder) => V): T {
    if (!this.open) this.fail(`${op}: the tensor is used after its callback returned`);
    let v: V;
    try {
      v = f(this.b);
    } catch (e) {
      if (e instanceof KilnError && !(e instanceof ModelError)) this.fail(`${op}: ${e.message}`);
      throw e;
    }
    const shape = this.b.type(v).shape;
    if (size(shape) > MAX_ELEMENTS) this.fail(`${op} gives shape ${fmtShape(shape)}, ${size(shape)} elements; one tensor holds at most ${MAX_ELEMENTS}`);
    return new T(this, v);
  }
}
