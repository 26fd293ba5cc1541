/**
 * Tensor expressions: the value `fn`, `layer` and `lossFn` callbacks receive. A `T` is a value of
 * the graph being traced; each method emits one primitive (or a short composition of them)
 * through the GraphBuilder, so a user's code gets what the built-ins get: symbolic gradients,
 * fusion, WebAssembly kernels, printable IR. Nothing is computed here.
 *
 * Every T belongs to one callback call (its Scope): a T kept from another layer, or used after
 * its callback returned, is refused, so a body can use only its own inputs and numbers. Errors
 * (a bad argument, shapes that do not fit, a tensor over the size limit) are ModelErrors naming
 * the layer path, raised while compile() traces, before anything is allocated.
 */
import type { GraphBuilder } from "../../compiler/ir/builder.js";
import { fmtShape, inferShape, size, type V } from "../../compiler/ir/types.js";
import { describeValue } from "../validate.js";
import { isFloat32, numberText, unknownOption } from "../options.js";
import type { Scope } from "./scope.js";

/**
 * What marks a tensor expression, registered globally (Symbol.for): a model.ts in a CommonJS
 * project can load a second copy of kiln beside the one running it (tsx's require hook), and
 * `instanceof T` would then refuse the other copy's tensors — `cat([x, y])` from the model's copy
 * given the x, y that the command's copy traced.
 */
const TENSOR: unique symbol = Symbol.for("kiln.tensor-expression");
/** Is x a tensor expression (of this copy of kiln or another)? */
export const isTensor = (x: unknown): x is T => typeof x === "object" && x !== null && (x as { [TENSOR]?: unknown })[TENSOR] === true;

/** How an argument is named in a message. */
export const describe = (x: unknown): string => (typeof x === "function" ? "a function" : x instanceof Promise ? "a Promise" : describeValue(x));

export interface MatmulOptions {
  readonly transposeA?: boolean;
  readonly transposeB?: boolean;
}
export interface ReduceOptions {
  readonly keepdims?: boolean;
}

/** A tensor expression. Create none yourself: callbacks receive them. */
export class T {
  /** @internal */
  constructor(readonly scope: Scope, readonly v: V) {
    Object.freeze(this);
  }

  /** @internal (isTensor) */
  get [TENSOR](): true {
    return true;
  }

  /** The static shape, e.g. [32, 48] (the batch is the first axis). */
  get shape(): readonly number[] {
    // A copy: the graph's own type must not change if a caller writes to what it got.
    return Object.freeze([...this.scope.b.type(this.v).shape]);
  }

  // ---- arithmetic with numpy broadcasting; a number is a scalar ----------------------------
  add(y: T | number): T { return this.binary("add", y, (b, x, z) => b.add(x, z)); }
  sub(y: T | number): T { return this.binary("sub", y, (b, x, z) => b.sub(x, z)); }
  mul(y: T | number): T { return this.binary("mul", y, (b, x, z) => b.mul(x, z)); }
  div(y: T | number): T { return this.binary("div", y, (b, x, z) => b.div(x, z)); }
  /** Elementwise max(x, y); the gradient at a tie follows PyTorch's torch.maximum. */
  maximum(y: T | number): T { return this.binary("maximum", y, (b, x, z) => b.maximum(x, z)); }
  minimum(y: T | number): T { return this.binary("minimum", y, (b, x, z) => b.minimum(x, z)); }

  // ---- conditions: 1 where true, 0 where false (NaN compares false); no gradient -------------
  /** 1 where x > y, else 0: a mask to multiply with, or the condition of `where`. */
  gt(y: T | number): T { return this.binary("gt", y, (b, x, z) => b.greater(x, z)); }
  lt(y: T | number): T { return this.binary("lt", y, (b, x, z) => b.greater(z, x)); }
  ge(y: T | number): T { return this.binary("ge", y, (b, x, z) => b.greaterEqual(x, z)); }
  le(y: T | number): T { return this.binary("le", y, (b, x, z) => b.greaterEqual(z, x)); }

  /**
   * torch.clamp(x, min, max): min below it, max above it (either may be left out); the gradient
   * is 1 from min to max inclusive and 0 outside, as PyTorch's. NaN stays NaN; ±∞ clamps.
   */
  clamp(min?: number, max?: number): T {
    for (const [what, v] of [["min", min], ["max", max]] as const) {
      if (v !== undefined && (typeof v !== "number" || Number.isNaN(v))) this.scope.fail(`clamp: ${what} must be a number, got ${describe(v)}`);
    }
    if (min !== undefined && max !== undefined && min > max) this.scope.fail(`clamp: min ${min} is above max ${max}`);
    const x = this.x("clamp");
    return this.scope.emit("clamp", (b) => {
      let y = x;
      if (min !== undefined) y = b.where(b.greater(b.scalar(min), x), b.scalar(min), y);
      if (max !== undefined) y = b.where(b.greater(x, b.scalar(max)), b.scalar(max), y);
      return y;
    });
  }

  // ---- elementwise functions ----------------------------------------------------------------
  neg(): T { return this.unary("neg", (b, x) => b.neg(x)); }
  exp(): T { return this.unary("exp", (b, x) => b.exp(x)); }
  log(): T { return this.unary("log", (b, x) => b.log(x)); }
  tanh(): T { return this.unary("tanh", (b, x) => b.tanh(x)); }
  sigmoid(): T { return this.unary("sigmoid", (b, x) => b.sigmoid(x)); }
  relu(): T { return this.unary("relu", (b, x) => b.relu(x)); }
  sqrt(): T { return this.unary("sqrt", (b, x) => b.sqrt(x)); }
  rsqrt(): T { return this.unary("rsqrt", (b, x) => b.rsqrt(x)); }
  abs(): T { return this.unary("abs", (b, x) => b.abs(x)); }
  erf(): T { return this.unary("erf", (b, x) => b.erf(x)); }
  square(): T { return this.unary("square", (b, x) => b.mul(x, x)); }
  /** −1, 0 or 1 (gradient 0 everywhere, as PyTorch). */
  sign(): T { return this.unary("sign", (b, x) => b.sign(x)); }
  /** The same values with no gradient through them (torch's `detach`, JAX's `stop_gradient`). */
  detach(): T { return this.unary("detach", (b, x) => b.detach(x)); }
  /** x^k for a number k (x > 0 unless k is an integer). */
  pow(k: number): T {
    if (!isFloat32(k)) this.scope.fail(`pow: expected a finite number exponent, got ${typeof k === "number" ? numberText(k) : describe(k)}`);
    return this.unary("pow", (b, x) => b.pow(x, k));
  }

  // ---- linear algebra and reductions --------------------------------------------------------
  /**
   * op(A)·op(B), op = transpose of the last two axes where asked (torch.matmul). 2-D operands; or
   * batched, operands of one rank with equal leading axes, one product per leading index (the
   * scores of attention: `q.matmul(k, { transposeB: true })`); or A of rank > 2 times a 2-D B,
   * B applied to A's last axis (a per-token linear map).
   */
  matmul(other: T, opts: MatmulOptions = {}): T {
    const y = this.scope.own("matmul", this.tensorArg("matmul", other));
    this.known("matmul", opts, ["transposeA", "transposeB"]);
    const ta = this.flag("matmul transposeA", opts?.transposeA), tb = this.flag("matmul transposeB", opts?.transposeB);
    return this.scope.emit("matmul", (b) => b.product(this.x("matmul"), y, ta, tb));
  }

  /** Sum over `axis` (a number or several; all axes if absent; negative counts from the end). */
  sum(axis?: number | readonly number[], opts: ReduceOptions = {}): T { return this.reduce("sum", axis, opts, (b, x, a, k) => b.sum(x, a, k)); }
  mean(axis?: number | readonly number[], opts: ReduceOptions = {}): T { return this.reduce("mean", axis, opts, (b, x, a, k) => b.mean(x, a, k)); }
  /** Maximum over `axis`; its gradient goes to the first maximal element, as PyTorch's max(dim) (torch.amax and max() split a tie evenly). */
  max(axis?: number | readonly number[], opts: ReduceOptions = {}): T { return this.reduce("max", axis, opts, (b, x, a, k) => b.max(x, a, k)); }
  /** Minimum over `axis`, as −max(−x): its gradient goes to the first minimal element, as PyTorch's min(dim). */
  min(axis?: number | readonly number[], opts: ReduceOptions = {}): T { return this.reduce("min", axis, opts, (b, x, a, k) => b.neg(b.max(b.neg(x), a, k))); }
  /** log Σ exp over `axis` (torch.logsumexp), as m + log Σ exp(x − m) with m the maximum: no overflow. */
  logsumexp(axis?: number | readonly number[], opts: ReduceOptions = {}): T { return this.reduce("logsumexp", axis, opts, (b, x, a, k) => b.logsumexp(x, a, k)); }

  /** Elements start ≤ i < end along `axis` (negative axis and indices count from the end, as Python). */
  slice(axis: number, start: number, end?: number): T {
    const shape = this.shape;
    const a = this.axis("slice", axis);
    const n = shape[a]!;
    const at = (what: string, i: unknown, dflt: number): number => {
      if (i === undefined) return dflt;
      if (typeof i !== "number" || !Number.isInteger(i)) this.scope.fail(`slice: ${what} must be an integer, got ${describe(i)}`);
      return Math.min(Math.max(i < 0 ? i + n : i, 0), n);
    };
    const s = at("start", start, 0), e = at("end", end, n);
    if (e <= s) this.scope.fail(`slice(${axis}, ${String(start)}, ${String(end)}) of shape ${fmtShape(shape)} is empty; expected start < end within 0..${n}`);
    return this.scope.emit("slice", (b) => (s === 0 && e === n ? this.x("slice") : b.slice(this.x("slice"), a, s, e)));
  }

  /**
   * The same elements in a new shape, in row-major order (torch.reshape); one −1 is inferred.
   * compile traces the model at several batch sizes, so write the batch as `x.shape[0]` (or −1),
   * never as a number: `x.reshape([x.shape[0], heads, -1])`.
   */
  reshape(shape: readonly number[]): T {
    const from = this.shape, total = size(from);
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && (d >= 1 || d === -1))) {
      this.scope.fail(`reshape: expected a shape of positive integers (and at most one −1), got ${describe(shape)}`);
    }
    if (shape.filter((d) => d === -1).length > 1) this.scope.fail(`reshape: at most one −1 in the shape, got [${shape.join(",")}]`);
    const to = inferShape(total, shape) ?? this.scope.fail(`reshape: ${fmtShape(from)} (${total} elements) cannot be shaped [${shape.join(",")}]`);
    const x = this.x("reshape");
    return this.scope.emit("reshape", (b) => b.reshape(x, to));
  }

  /**
   * The axes in a new order (torch.permute): axis d of the result is axis `axes[d]` of this
   * (negative counts from the end). Multi-head attention's [batch, tokens, heads, d] →
   * [batch, heads, tokens, d] is `permute([0, 2, 1, 3])`.
   */
  permute(axes: readonly number[]): T {
    const rank = this.shape.length;
    if (!Array.isArray(axes) || axes.length !== rank) this.scope.fail(`permute: expected ${rank} axes for shape ${fmtShape(this.shape)}, got ${describe(axes)}`);
    const perm = axes.map((a) => this.axis("permute", a));
    if (new Set(perm).size !== rank) this.scope.fail(`permute: repeated axis in [${axes.join(",")}]`);
    const x = this.x("permute");
    return this.scope.emit("permute", (b) => b.transpose(x, perm));
  }

  /**
   * The lower triangle of the last two axes (torch.tril): elements with column − row ≤ diagonal,
   * the rest 0. A causal mask: `where(s.mul(0).add(1).tril().gt(0.5), s, -1e9)` for scores s.
   */
  tril(diagonal = 0): T { return this.triangle("tril", diagonal, false); }
  /** The upper triangle of the last two axes (torch.triu): column − row ≥ diagonal, the rest 0. */
  triu(diagonal = 0): T { return this.triangle("triu", diagonal, true); }

  private triangle(op: string, diagonal: unknown, upper: boolean): T {
    if (typeof diagonal !== "number" || !Number.isInteger(diagonal)) this.scope.fail(`${op}: diagonal must be an integer, got ${describe(diagonal)}`);
    if (this.shape.length < 2) this.scope.fail(`${op}: expected a tensor of rank 2 or more, got shape ${fmtShape(this.shape)}`);
    const x = this.x(op);
    return this.scope.emit(op, (b) => b.tril(x, diagonal, upper));
  }

  /** Axes `a` and `b` swapped (torch.transpose): `k.transpose(-2, -1)`. */
  transpose(a: number, b: number): T {
    const perm = this.shape.map((_d, i) => i), i = this.axis("transpose", a), j = this.axis("transpose", b);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    return this.permute(perm);
  }

  /** log softmax along `axis` (default the last): x − max − log Σ exp(x − max), stable for any x. */
  logSoftmax(axis = -1): T {
    const x = this.x("logSoftmax"), a = this.axis("logSoftmax", axis);
    return this.scope.emit("logSoftmax", (b) => b.logSoftmax(x, a));
  }

  /**
   * softmax along `axis` (default the last), traced as exp(logSoftmax) (its gradient is
   * log_softmax's) and computed as PyTorch does, exp(x − max) / Σ exp(x − max): rows sum to 1,
   * no overflow.
   */
  softmax(axis = -1): T {
    const x = this.x("softmax"), a = this.axis("softmax", axis);
    return this.scope.emit("softmax", (b) => b.exp(b.logSoftmax(x, a)));
  }

  /**
   * Dropout, as PyTorch's F.dropout(x, p, training): in training each element is zeroed with
   * probability p and the rest scaled by 1/(1 − p), a mask of its own for every call and step
   * (seeded by compile's `seed`); in eval, x itself. A layer or fn body only (a loss has no phase).
   */
  dropout(p: number): T {
    const x = this.x("dropout");
    if (typeof p !== "number" || !(p >= 0 && p < 1)) this.scope.fail(`dropout: expected a probability p with 0 ≤ p < 1, got ${describe(p)}`);
    const tracing = this.scope.tracing ?? this.scope.fail("dropout: only a layer or fn body drops (a loss is computed in training only and has no eval to differ from)");
    return this.scope.emit("dropout", () => tracing.dropout(x, p));
  }

  // ---- helpers ------------------------------------------------------------------------------
  private x(op: string): V {
    return this.scope.own(op, this);
  }

  private tensorArg(op: string, y: unknown): T {
    if (!isTensor(y)) this.scope.fail(`${op}: expected a tensor expression, got ${describe(y)}`);
    return y;
  }

  /** A misspelt option (transposeb, keepDims) was ignored: on square operands a wrong product, silently. */
  private known(what: string, opts: unknown, names: readonly string[]): void {
    const bad = unknownOption(what, opts, names);
    if (bad !== null) this.scope.fail(bad);
  }

  private flag(what: string, f: unknown): boolean {
    if (f !== undefined && typeof f !== "boolean") this.scope.fail(`${what} must be true or false, got ${describe(f)}`);
    return f ?? false;
  }

  private unary(op: string, f: (b: GraphBuilder, x: V) => V): T {
    const x = this.x(op);
    return this.scope.emit(op, (b) => f(b, x));
  }

  private binary(op: string, y: unknown, f: (b: GraphBuilder, x: V, y: V) => V): T {
    const x = this.x(op);
    const z = this.scope.operand(op, y);
    return this.scope.emit(op, (b) => f(b, x, z));
  }

  /** A possibly negative axis as an index into this shape. */
  axis(op: string, axis: unknown): number {
    const rank = this.shape.length;
    if (typeof axis !== "number" || !Number.isInteger(axis) || axis < -rank || axis >= rank) {
      this.scope.fail(`${op}: axis must be an integer in [${-rank}, ${rank - 1}] for shape ${fmtShape(this.shape)}, got ${describe(axis)}`);
    }
    return axis < 0 ? axis + rank : axis;
  }

  private reduce(op: string, axis: unknown, opts: ReduceOptions, f: (b: GraphBuilder, x: V, axes: number[], keepdims: boolean) => V): T {
    const x = this.x(op);
    const all = this.shape.map((_d, i) => i);
    const axes = axis === undefined ? all : Array.isArray(axis) ? axis.map((a) => this.axis(op, a)) : [this.axis(op, axis)];
    if (new Set(axes).size !== axes.length) this.scope.fail(`${op}: repeated axis in ${JSON.stringify(axis)}`);
    this.known(op, opts, ["keepdims"]);
    const keep = this.flag(`${op} keepdims`, opts?.keepdims);
    if (axes.length === 0) return this;
    return this.scope.emit(op, (b) => f(b, x, axes, keep));
  }
}
