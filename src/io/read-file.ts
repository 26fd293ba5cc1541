/**
 * Reading a file kiln was pointed at: only a regular file. A path may name a FIFO (reading waits
 * for a writer forever), a character device (/dev/zero never ends: the read would grow until
 * memory runs out) or a directory; each is refused by what it is, before any byte is read. The
 * file is opened non-blocking (so opening a FIFO does not wait) and checked by its descriptor, so
 * what is checked is what is read. Node's own size limit (2 GiB) refuses larger files unread.
 */
import { InputError } from "../../runtime/errors.js";
import { nodeBuiltin } from "../../runtime/host.js";

type Fs = typeof import("node:fs");
type Stats = import("node:fs").Stats;

const kind = (s: Stats): string =>
  s.isDirectory() ? "a directory" : s.isFIFO() ? "a FIFO (named pipe)" : s.isCharacterDevice() ? "a character device"
    : s.isBlockDevice() ? "a block device" : s.isSocket() ? "a socket" : "not a regular file";

/** A path that could not be read; `reason` is the why alone (for callers that word their own message). */
export class UnreadableFile extends InputError {
  constructor(what: string, path: unknown, readonly reason: string, cause?: unknown) {
    super(`cannot read ${what} ${JSON.stringify(path) ?? String(path)}: ${reason}`, cause === undefined ? undefined : { cause });
  }
}

const fail = (what: string, path: unknown, why: string, cause?: unknown): never => {
  throw new UnreadableFile(what, path, why, cause);
};
/** The refusal of a path that is not a regular file (checked on the opened descriptor). */
const requireFile = (s: Stats, what: string, path: string): void => {
  if (!s.isFile()) fail(what, path, `expected a regular file, got ${kind(s)}`);
};
/** Any error of opening or reading, as an UnreadableFile (one already is: passed on). */
const unreadable = (what: string, path: unknown, e: unknown): never => {
  if (e instanceof UnreadableFile) throw e;
  return fail(what, path, (e as Error)?.message ?? String(e), e);
};
/** A number would be a file descriptor to node's fs (0 is stdin). */
const requirePath = (what: string, path: unknown): void => {
  if (typeof path !== "string") fail(what, path, `expected a path (string), got ${typeof path}`);
};

/** Open flags: read-only, and non-blocking where the platform has it (not on Windows, which has no FIFOs to open). */
const flags = (fs: Fs): number => fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/**
 * The bytes of the regular file at `path`; `what` names it in messages ("checkpoint", "ONNX model").
 * @example const bytes = readRegularFile("model.safetensors", "checkpoint");
 */
export function readRegularFile(path: string, what: string): Uint8Array {
  requirePath(what, path);
  const fs = nodeBuiltin<Fs>("node:fs", `reading ${what} from a file`);
  let fd: number;
  try {
    fd = fs.openSync(path, flags(fs));
  } catch (e) {
    return unreadable(what, path, e);
  }
  try {
    requireFile(fs.fstatSync(fd), what, path);
    return fs.readFileSync(fd);
  } catch (e) {
    return unreadable(what, path, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** readRegularFile without blocking the event loop while the bytes are read (readIdx: files of 50 MB). */
export async function readRegularFileAsync(path: string, what: string): Promise<Uint8Array> {
  requirePath(what, path);
  const fs = nodeBuiltin<Fs>("node:fs", `reading ${what} from a file`);
  let handle: import("node:fs/promises").FileHandle;
  try {
    handle = await fs.promises.open(path, flags(fs));
  } catch (e) {
    return unreadable(what, path, e);
  }
  try {
    requireFile(await handle.stat(), what, path);
    return await handle.readFile();
  } catch (e) {
    return unreadable(what, path, e);
  } finally {
    await handle.close();
  }
}
