/**
 * User DSL code as data: the JSON expression language of test/fixtures/dsl_torch.py (see its
 * header) turned into the kiln calls a user would write — T methods and `cat` inside `fn`,
 * `layer` and `lossFn` callbacks. test/pytorch.test.ts builds the fixture kinds `exprFn`,
 * `exprLayer` and the loss `lossExpr` with it; dsl_torch.py evaluates the same JSON in PyTorch.
 */
import { cat, fn, layer, lossFn, where, type Loss, type T } from "../../src/index.js";

export type Expr = readonly unknown[];
export type Operand = Expr | number;

export interface ExprFnJson { readonly kind: "exprFn"; readonly name: string; readonly expr: Expr }
export interface ExprLayerJson {
  readonly kind: "exprLayer"; readonly name: string; readonly in: number; readonly out: number;
  readonly params?: Readonly<Record<string, { readonly shape: readonly number[] }>>;
  readonly state?: Readonly<Record<string, { readonly shape: readonly number[] }>>;
  readonly update?: Readonly<Record<string, Expr>>;
  readonly expr: Expr;
}
export interface LossExprJson { readonly kind: "lossExpr"; readonly name: string; readonly expr: Expr }

interface Env {
  readonly x?: T; readonly out?: T; readonly target?: T;
  readonly p?: Readonly<Record<string, T>>; readonly s?: Readonly<Record<string, T>>;
}

type Unary = "neg" | "exp" | "log" | "tanh" | "sigmoid" | "relu" | "sqrt" | "rsqrt" | "abs" | "erf" | "square" | "sign" | "detach";
type Binary = "add" | "sub" | "mul" | "div" | "maximum" | "minimum";
const UNARY = new Set<string>(["neg", "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "rsqrt", "abs", "erf", "square", "sign", "detach"]);
const BINARY = new Set<string>(["add", "sub", "mul", "div", "maximum", "minimum"]);

function need<V>(v: V | undefined, what: string): V {
  if (v === undefined) throw new Error(`DSL expression: ${what} is not available here`);
  return v;
}

/** A binary op's second operand: an expression, a number, or ["dim", axis] (a shape entry, a number). */
function operand(e: Operand, env: Env): T | number {
  if (typeof e === "number") return e;
  if (e[0] === "dim") return need(env.x ?? env.out, "dim").shape.at(e[1] as number)!;
  return evaluate(e, env);
}

export function evaluate(e: Expr, env: Env): T {
  const op = e[0] as string;
  const sub = (i: number) => evaluate(e[i] as Expr, env);
  switch (op) {
    case "x": case "out": case "target": return need(env[op], op);
    case "p": return need(env.p?.[e[1] as string], `param ${String(e[1])}`);
    case "s": return need(env.s?.[e[1] as string], `state ${String(e[1])}`);
    case "pow": return sub(1).pow(e[2] as number);
    case "matmul": return sub(1).matmul(sub(2), { transposeA: e[3] as boolean, transposeB: e[4] as boolean });
    case "sum": case "mean": case "max": {
      const axes = e[2] as number | number[] | null;
      return sub(1)[op](axes ?? undefined, { keepdims: e[3] as boolean });
    }
    case "slice": return sub(1).slice(e[2] as number, e[3] as number, (e[4] as number | null) ?? undefined);
    case "cat": return cat((e[1] as Expr[]).map((x) => evaluate(x, env)), e[2] as number);
    case "softmax": case "logSoftmax": return sub(1)[op](e[2] as number);
    case "reshape": return sub(1).reshape((e[2] as Operand[]).map((d) => operand(d, env) as number));
    case "permute": return sub(1).permute(e[2] as number[]);
    case "transpose": return sub(1).transpose(e[2] as number, e[3] as number);
    case "tril": return sub(1).tril(e[2] as number);
    case "triu": return sub(1).triu(e[2] as number);
    case "gt": case "lt": case "ge": case "le": return (sub(1)[op] as (y: T | number) => T)(operand(e[2] as Operand, env));
    case "where": return where(sub(1), operand(e[2] as Operand, env), operand(e[3] as Operand, env));
    case "clamp": return sub(1).clamp((e[2] as number | null) ?? undefined, (e[3] as number | null) ?? undefined);
  }
  if (UNARY.has(op)) return sub(1)[op as Unary]();
  if (BINARY.has(op)) {
    const b = operand(e[2] as Operand, env);
    // The overloads take T | number; one call site for both.
    return (sub(1)[op as Binary] as (y: T | number) => T)(b);
  }
  throw new Error(`DSL expression: unknown op ${JSON.stringify(op)}`);
}

export const exprFn = (d: ExprFnJson) => fn(d.name, (x) => evaluate(d.expr, { x }));

export function exprLayer(d: ExprLayerJson) {
  return layer({
    name: d.name, in: d.in, out: d.out, params: d.params ?? {}, state: d.state ?? {},
    apply: (p, x, s) => {
      const env = { x, p, s };
      const out = evaluate(d.expr, env);
      const update = Object.entries(d.update ?? {});
      return update.length === 0 ? out : { out, state: Object.fromEntries(update.map(([k, u]) => [k, evaluate(u, env)])) };
    },
  });
}

export const lossExpr = (d: LossExprJson): Loss => lossFn(d.name, (out, target) => evaluate(d.expr, { out, target }));
