/**
 * What kiln asks of the platform beyond ECMAScript and WebAssembly, looked up when used so that
 * the library's modules carry no static `node:` import and load unchanged in a browser:
 * environment variables (KILN_DEBUG, …: none in a browser) and Node's built-in modules, which
 * only the file functions (save/load by path) need.
 */
import { KilnError } from "./errors.js";

interface NodeProcess {
  readonly env: Record<string, string | undefined>;
  readonly pid: number;
  getBuiltinModule?(id: string): unknown;
}

const nodeProcess = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

/** An environment variable, or undefined (unset, or no environment: a browser). */
export function envVar(name: string): string | undefined {
  return nodeProcess()?.env?.[name];
}

const warned = new Set<string>();

/**
 * A setting from the environment: `parse` gives its value, or undefined for a value it does not
 * understand — then the default, and one warning naming what was expected. (KILN_CHECK_NUMERICS=true
 * left the check off and KILN_DEBUG=yes printed nothing, silently.)
 */
export function envSetting<T>(name: string, expected: string, dflt: T, parse: (text: string) => T | undefined): T {
  const text = envVar(name);
  if (text === undefined || text === "") return dflt;
  const v = parse(text.trim());
  if (v !== undefined) return v;
  if (!warned.has(`${name}=${text}`)) {
    warned.add(`${name}=${text}`);
    console.warn(`kiln: ${name}=${JSON.stringify(text)} is not understood; expected ${expected}. Ignored.`);
  }
  return dflt;
}

/** "1"/"true"/"yes" → true, "0"/"false"/"no" → false. */
export const envFlag = (text: string): boolean | undefined =>
  /^(1|true|yes|on)$/i.test(text) ? true : /^(0|false|no|off)$/i.test(text) ? false : undefined;

/** Whether Node's built-in modules are at hand (Node ≥ 20.16: process.getBuiltinModule). */
export const hasNodeBuiltins = (): boolean => typeof nodeProcess()?.getBuiltinModule === "function";

/**
 * A Node built-in module (`node:fs`, …), or a KilnError saying that `what` needs Node.
 * @example const fs = nodeBuiltin<typeof import("node:fs")>("node:fs", "saving a checkpoint to a file");
 */
export function nodeBuiltin<M>(id: string, what: string): M {
  const proc = nodeProcess();
  const mod = typeof proc?.getBuiltinModule === "function" ? proc.getBuiltinModule(id) : undefined;
  if (mod === undefined) {
    throw new KilnError(`${what} needs Node.js ≥ 20.16 (${id}); in a browser use the byte functions (checkpointBytes, loadCheckpointBytes, …)`);
  }
  return mod as M;
}

/** This process's id, for temporary file names (0 without Node). */
export const processId = (): number => nodeProcess()?.pid ?? 0;

/** KILN_DEBUG's level (0: off; 1 to 4 print more, see the README). */
export const debugLevel = (): number => envSetting("KILN_DEBUG", "a level 0 to 4", 0, (t) => (/^[0-4]$/.test(t) ? Number(t) : undefined));
