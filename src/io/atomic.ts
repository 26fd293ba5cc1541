/**
 * Atomic file replacement: write to a temporary file in the same directory, flush it to disk,
 * then rename it over the target. rename(2) within one file system is atomic, so a reader (or a
 * crash at any moment) sees either the complete old file or the complete new one, never a
 * half-written mix. The temporary file is removed if anything fails before the rename.
 */
import { KilnError } from "../../runtime/errors.js";
import { nodeBuiltin, processId } from "../../runtime/host.js";

// Looked up when a file is written (runtime/host.ts): this module also loads in a browser.
const fsModule = () => nodeBuiltin<typeof import("node:fs")>("node:fs", "writing a file");
const pathModule = () => nodeBuiltin<typeof import("node:path")>("node:path", "writing a file");

/** The file-system calls used, injectable so tests can make one of them fail. */
export interface FileIO {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

const nodeIO: FileIO = {
  openSync: (p, f, m) => fsModule().openSync(p, f, m),
  writeSync: (fd, b, o, l) => fsModule().writeSync(fd, b, o, l),
  fsyncSync: (fd) => fsModule().fsyncSync(fd),
  closeSync: (fd) => fsModule().closeSync(fd),
  renameSync: (a, b) => fsModule().renameSync(a, b),
  unlinkSync: (p) => fsModule().unlinkSync(p),
};

/**
 * Replace the file at `path` with `data`, atomically (see the header). Failures are KilnErrors
 * naming the file, with the system error as `cause`.
 * @example writeFileAtomic("model.safetensors", bytes)
 */
export function writeFileAtomic(path: string, data: Uint8Array, io: FileIO = nodeIO): void {
  if (typeof path !== "string" || path === "") throw new KilnError(`cannot write a file: expected a path (non-empty string), got ${typeof path} ${JSON.stringify(path) ?? String(path)}`);
  if (!(data instanceof Uint8Array)) throw new KilnError(`cannot write ${JSON.stringify(path)}: expected bytes (Uint8Array), got ${data === null ? "null" : typeof data}`);
  const { basename, dirname, join } = pathModule();
  const nonce = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
  const tmp = join(dirname(path), `.${basename(path)}.${processId()}.${nonce}.tmp`);
  let fd: number | null = null;
  let renamed = false;
  try {
    fd = io.openSync(tmp, "wx", 0o644);
    for (let at = 0; at < data.length;) at += io.writeSync(fd, data, at, data.length - at);
    io.fsyncSync(fd); // the data is on disk before the name points at it
    const f = fd;
    fd = null;
    io.closeSync(f);
    io.renameSync(tmp, path);
    renamed = true;
  } catch (e) {
    // The system's message names the temporary file; say what is wrong with the path itself.
    const code = (e as { code?: unknown })?.code;
    const why = code === "ENOENT" ? `the folder ${JSON.stringify(dirname(path))} does not exist (expected an existing folder; create it first)`
      : code === "EACCES" || code === "EPERM" ? `no permission to write in the folder ${JSON.stringify(dirname(path))}`
      : (e as Error)?.message ?? String(e);
    throw new KilnError(`cannot write ${JSON.stringify(path)}: ${why} (the previous file, if any, is unchanged)`, { cause: e });
  } finally {
    if (fd !== null) try { io.closeSync(fd); } catch { /* already failing */ }
    if (!renamed) try { io.unlinkSync(tmp); } catch { /* never created */ }
  }
  syncDirectory(dirname(path));
}

/** Make the rename itself durable (POSIX); not possible everywhere (Windows), so best effort. */
function syncDirectory(dir: string): void {
  const fs = fsModule();
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch { /* best effort */ } finally {
    if (fd !== null) try { fs.closeSync(fd); } catch { /* ignore */ }
  }
}
