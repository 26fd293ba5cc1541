// IDX reader and folder loader: real Fashion-MNIST when installed, corrupt copies, and a fuzz loop.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, deflateRawSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecodeError, InputError, KilnError } from "../runtime/errors.js";
import { philox } from "../runtime/rng.js";
import { classCounts } from "../src/data/dataset.js";
import { FASHION_MNIST_DIR, loadFashionMnist, loadIdxDir } from "../src/data/fashion.js";
import { decodeIdx, type IdxImages, type IdxLabels } from "../src/data/idx.js";

/** An IDX file: magic 00 00 dtype ndims, big-endian dims, then the data bytes. */
function idx(dims: number[], data: ArrayLike<number>, dtype = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = dtype;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
const ramp = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff);
const images = (count: number, rows = 2, cols = 3) => idx([count, rows, cols], ramp(count * rows * cols));
const labels = (ys: number[]) => idx([ys.length], ys);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};

function decodeError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as Error).message;
  }
  throw new Error("expected a DecodeError, got none");
}

describe("decodeIdx", () => {
  it("reads uint8 images scaled to [0, 1] and labels as Int32Array, plain or gzipped", () => {
    for (const wrap of [(b: Uint8Array) => b, (b: Uint8Array) => gzipSync(b)]) {
      const im = decodeIdx(wrap(images(4)), "im", "images");
      expect([im.count, im.rows, im.cols]).toEqual([4, 2, 3]);
      expect(im.pixels).toBeInstanceOf(Float32Array);
      expect(Array.from(im.pixels)).toEqual(Array.from(ramp(24), (v) => Math.fround(v / 255)));
      const lb = decodeIdx(wrap(labels([3, 0, 9])), "lb", "labels");
      expect(lb.labels).toEqual(Int32Array.of(3, 0, 9));
    }
    expect(decodeIdx(idx([1, 1, 2], [0, 255]), "x", "images").pixels).toEqual(Float32Array.of(0, 1));
  });

  it("names the file and says what was expected and what was found", () => {
    const bad = images(2);
    bad[0] = 0x50;
    expect(decodeError(() => decodeIdx(bad, "a.idx", "images")))
      .toMatch(/^a\.idx: bad magic: expected 0x00000803 \(IDX images\), found 0x50000803/);
    expect(decodeError(() => decodeIdx(idx([2], [1, 2], 0x0d), "f.idx", "labels")))
      .toMatch(/unsupported dtype 0x0d \(float32\).*expected 0x08 \(uint8\)/);
    expect(decodeError(() => decodeIdx(images(2), "im", "labels"))).toMatch(/expected 1 dimension .* found 3/);
    expect(decodeError(() => decodeIdx(labels([1]), "lb", "images"))).toMatch(/expected 3 dimensions .* found 1/);
    expect(decodeError(() => decodeIdx(idx([0, 28, 28], []), "z", "images"))).toMatch(/0×28×28; expected every dimension ≥ 1/);
  });

  it("rejects truncated files, short data and trailing bytes", () => {
    const full = images(3);
    expect(decodeError(() => decodeIdx(new Uint8Array(0), "e", "images"))).toMatch(/truncated: expected a 4-byte/);
    expect(decodeError(() => decodeIdx(full.subarray(0, 10), "h", "images"))).toMatch(/truncated header: expected 16 bytes, found 10/);
    expect(decodeError(() => decodeIdx(full.subarray(0, full.length - 1), "s", "images")))
      .toMatch(/s: truncated: header declares 3×2×3, expected 34 bytes \(16 header \+ 18 data\), found 33/);
    expect(decodeError(() => decodeIdx(concat(full, Uint8Array.of(7, 7)), "t", "images")))
      .toMatch(/t: 2 bytes of trailing data: .* expected 34 bytes, found 36/);
    expect(decodeError(() => decodeIdx(gzipSync(full.subarray(0, 30)), "g.gz", "images")))
      .toMatch(/g\.gz \(after gunzip\): truncated/);
    expect(decodeError(() => decodeIdx(gzipSync(concat(full, Uint8Array.of(1))), "g.gz", "images")))
      .toMatch(/expected 34 bytes, found more/);
    // Bytes after the gzip stream that start no new member (Node's gunzip stops there, silently).
    expect(decodeError(() => decodeIdx(concat(gzipSync(full), Uint8Array.of(0, 1, 2, 3)), "j.gz", "images")))
      .toMatch(/^j\.gz: 4 bytes of trailing data after the gzip stream; expected the stream to end the file$/);
    expect(decodeIdx(concat(gzipSync(full.subarray(0, 20)), gzipSync(full.subarray(20))), "two.gz", "images").count).toBe(3); // two members: valid gzip
  });

  it("rejects corrupt gzip streams", () => {
    const gz = gzipSync(images(50));
    expect(decodeError(() => decodeIdx(gz.subarray(0, gz.length - 9), "cut.gz", "images"))).toMatch(/cut\.gz: corrupt gzip stream/);
    const flipped = Uint8Array.from(gz);
    flipped[gz.length - 6] ^= 0xff; // inside the CRC-32 trailer
    expect(decodeError(() => decodeIdx(flipped, "crc.gz", "images"))).toMatch(/corrupt gzip stream \(incorrect data check\)/);
    expect(decodeError(() => decodeIdx(concat(gz, Uint8Array.of(1, 2, 3)), "tail.gz", "images"))).toMatch(/corrupt gzip/);
    expect(decodeError(() => decodeIdx(Uint8Array.of(0x1f, 0x8b, 0, 1, 2, 3, 4, 5, 6, 7), "junk.gz", "images")))
      .toMatch(/junk\.gz: corrupt gzip stream/);
  });

  it("refuses absurd headers before allocating", () => {
    // 10⁶ × 10³ × 10³ = 10¹² elements in a 16-byte file.
    const huge = idx([1e6, 1e3, 1e3], []);
    expect(decodeError(() => decodeIdx(huge, "big", "images"))).toMatch(/1000000×1000×1000 = 1000000000000 elements, more than/);
    expect(decodeError(() => decodeIdx(gzipSync(huge), "big.gz", "images"))).toMatch(/more than the 1073741824/);
    // Within the cap but far more than 30-odd gzip bytes can expand to.
    const claim = idx([100_000, 28, 28], []);
    expect(decodeError(() => decodeIdx(gzipSync(claim), "claim.gz", "images"))).toMatch(/gzip bytes expand to at most/);
    // Plain files: the byte length decides, whatever the header says.
    expect(decodeError(() => decodeIdx(claim, "claim", "images"))).toMatch(/truncated: header declares 100000×28×28/);
  });

  it("stops decompressing a bomb at the size the header declares", () => {
    const bomb = gzipSync(concat(images(1), new Uint8Array(16 << 20))); // 16 MiB of zeros after a 6-pixel image
    expect(bomb.length).toBeLessThan(100_000);
    expect(decodeError(() => decodeIdx(bomb, "bomb.gz", "images"))).toMatch(/expected 22 bytes, found more/);
    // A 20 kB file name keeps the first prefixes header-only; the next one would inflate past the
    // probe cap, so the header probe has to bisect back to a small prefix.
    const payload = concat(images(1), new Uint8Array(4 << 20));
    const body = deflateRawSync(payload);
    const head = concat(Uint8Array.of(0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 0xff), new Uint8Array(20_000).fill(0x61), Uint8Array.of(0));
    const trailer = new Uint8Array(8);
    new DataView(trailer.buffer).setUint32(0, crc32(payload), true);
    new DataView(trailer.buffer).setUint32(4, payload.length >>> 0, true);
    expect(decodeError(() => decodeIdx(concat(head, body, trailer), "named.gz", "images"))).toMatch(/expected 22 bytes, found more/);
    const ok = concat(images(1));
    const named = concat(head, deflateRawSync(ok), (() => {
      const t = new Uint8Array(8);
      new DataView(t.buffer).setUint32(0, crc32(ok), true);
      new DataView(t.buffer).setUint32(4, ok.length, true);
      return t;
    })());
    expect(decodeIdx(named, "named.gz", "images").count).toBe(1);
  });

  it("fuzz: 2,000 random and mutated buffers fail only with a KilnError", () => {
    const block = new Uint32Array(4);
    let counter = 0;
    const rand = (n: number) => {
      philox(counter++, 0, 0, 0, 1234, 0, block);
      return block[0]! % n;
    };
    const seeds = [images(3), images(1, 28, 28), labels([1, 2, 3, 4]), gzipSync(images(5)), gzipSync(labels([9, 9]))];
    let decoded = 0;
    for (let trial = 0; trial < 2000; trial++) {
      let buf: Uint8Array;
      const mode = rand(4);
      if (mode === 0) {
        buf = Uint8Array.from({ length: rand(48) }, () => rand(256));
        if (rand(2)) buf.set([0, 0, 8, rand(2) ? 3 : 1].slice(0, buf.length)); // plausible magic
        if (rand(4) === 0 && buf.length >= 2) buf.set([0x1f, 0x8b]);
      } else {
        buf = Uint8Array.from(seeds[rand(seeds.length)]!);
        for (let m = 1 + rand(3); m > 0; m--) {
          const at = rand(Math.max(1, buf.length));
          const op = rand(4);
          if (op === 0) buf[at] = rand(256);
          else if (op === 1) buf[at] = buf[at]! ^ (1 << rand(8));
          else if (op === 2) buf = buf.subarray(0, at);
          else buf = concat(buf.subarray(0, at), Uint8Array.of(rand(256)), buf.subarray(at));
        }
      }
      const kind = rand(2) ? "images" : "labels";
      try {
        const r = decodeIdx(buf, `fuzz#${trial}`, kind);
        decoded++;
        if (kind === "images") {
          const im = r as IdxImages;
          expect(im.pixels.length).toBe(im.count * im.rows * im.cols);
          expect(im.pixels.every((v) => v >= 0 && v <= 1)).toBe(true);
        } else {
          const lb = r as IdxLabels;
          expect(lb.labels.length).toBe(lb.count);
        }
      } catch (e) {
        if (!(e instanceof KilnError)) throw new Error(`trial ${trial}: non-Kiln error ${String(e)}`);
      }
    }
    expect(decoded).toBeGreaterThan(10); // some mutations (a changed pixel) leave a valid file
  });
});

describe("loadIdxDir", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kiln-idx-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  async function write(files: Record<string, Uint8Array>): Promise<string> {
    const sub = await mkdtemp(join(dir, "case-"));
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(sub, name), bytes);
    return sub;
  }
  const good = () => ({
    "train-images-idx3-ubyte": images(4, 28, 28),
    "train-labels-idx1-ubyte": labels([0, 1, 2, 9]),
    "t10k-images-idx3-ubyte.gz": gzipSync(images(2, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": gzipSync(labels([5, 6])),
  });

  it("reads plain and gzipped files under the standard names", async () => {
    const { train, test } = await loadIdxDir(await write(good()), "toy");
    expect([train.name, train.count, train.features, train.classes]).toEqual(["toy/train", 4, 784, 10]);
    expect([test.name, test.count]).toEqual(["toy/test", 2]);
    expect(test.labels).toEqual(Int32Array.of(5, 6));
  });

  it("checks that images and labels agree and labels are < 10", async () => {
    const short = await write({ ...good(), "train-labels-idx1-ubyte": labels([0, 1, 2]) });
    await expect(loadIdxDir(short, "toy")).rejects.toThrow(/expected 4 labels, one per image .* found 3/);
    const ten = await write({ ...good(), "train-labels-idx1-ubyte": labels([0, 1, 10, 2]) });
    await expect(loadIdxDir(ten, "toy")).rejects.toThrow(DecodeError);
    await expect(loadIdxDir(ten, "toy")).rejects.toThrow(/expected labels 0–9, found 10 at sample 2/);
  });

  it("compares train and test images by rows and columns, not only their product", async () => {
    const other = await write({ ...good(), "t10k-images-idx3-ubyte.gz": gzipSync(images(2, 14, 56)) });
    await expect(loadIdxDir(other, "toy")).rejects.toThrow(/t10k-images-idx3-ubyte\.gz: expected images of 28×28 pixels like .*train-images-idx3-ubyte, found 14×56/);
  });

  it("says how to get Fashion-MNIST when files are missing", async () => {
    const err = await loadFashionMnist(join(dir, "nowhere")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/nowhere: expected the four MNIST-format IDX files .* the folder does not exist/);
    const partial = await loadIdxDir(await write({ "train-images-idx3-ubyte": images(1) }), "toy").catch((e: unknown) => e);
    expect(partial).toBeInstanceOf(InputError);
    expect((partial as Error).message).toMatch(/found no train-labels-idx1-ubyte\(\.gz\), t10k-images-idx3-ubyte\(\.gz\), t10k-labels/);
    expect((err as Error).message).toMatch(/apt-get install dataset-fashion-mnist/);
    expect((err as Error).message).toMatch(/--data DIR/);
  });
});

const haveFashion = existsSync(join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz"));
if (!haveFashion) {
  console.warn(`Fashion-MNIST tests skipped: ${FASHION_MNIST_DIR} is missing (apt-get install dataset-fashion-mnist)`);
}

describe.skipIf(!haveFashion)(`Fashion-MNIST from ${FASHION_MNIST_DIR}`, () => {
  it("has 60,000 / 10,000 balanced 28×28 images in [0, 1]", async () => {
    const { train, test } = await loadFashionMnist();
    expect([train.count, test.count, train.features, train.classes]).toEqual([60000, 10000, 784, 10]);
    expect(Array.from(classCounts(train))).toEqual(Array(10).fill(6000));
    expect(Array.from(classCounts(test))).toEqual(Array(10).fill(1000));
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([9, 0, 0, 3, 0]); // ankle boot, T-shirt, …
    let min = Infinity, max = -Infinity;
    for (const v of test.images) { min = Math.min(min, v); max = Math.max(max, v); }
    expect([min, max]).toEqual([0, 1]);
  }, 15_000);

  it("rejects corrupt copies of the real label file", async () => {
    const gz = await readFile(join(FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte.gz"));
    expect(decodeIdx(gz, "t10k", "labels").count).toBe(10000);
    expect(decodeError(() => decodeIdx(gz.subarray(0, gz.length >> 1), "half.gz", "labels"))).toMatch(/corrupt gzip/);
    expect(decodeError(() => decodeIdx(gz, "t10k", "images"))).toMatch(/expected 3 dimensions .* found 1/);
  });
});
