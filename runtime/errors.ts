/**
 * Every rejection of user input is a KilnError. It lives in runtime/ (the lowest layer) so that
 * compiler/ and src/ can raise it too; src/index.ts re-exports it.
 *
 * Messages say what was expected and what came: `expected 100352 values (128×784), got 100000`.
 */
const MARK = Symbol.for("kiln.KilnError");

export class KilnError extends Error {
  override readonly name: string = "KilnError";
  readonly [MARK] = true;

  /**
   * `e instanceof KilnError` also holds for errors from another copy of this module (a model
   * file loaded through a different path), by a global marker; subclasses compare as usual.
   */
  static override [Symbol.hasInstance](x: unknown): boolean {
    if (this === KilnError) return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[MARK] === true;
    return Function.prototype[Symbol.hasInstance].call(this, x);
  }
}

/** A model whose layers do not fit together (feature sizes, residual shape, bad hyper-parameters). */
export class ModelError extends KilnError {
  override readonly name = "ModelError";
}

/** A call to a compiled program with wrong lengths, NaN, bad labels or a batch it was not compiled for. */
export class InputError extends KilnError {
  override readonly name = "InputError";
}

/** Malformed data from outside: JSON IR, specs, checkpoints, dataset files. */
export class DecodeError extends KilnError {
  override readonly name = "DecodeError";
}

/** An IR graph that breaks an invariant (unknown value, shape rule violated). */
export class GraphError extends KilnError {
  override readonly name = "GraphError";
}
