/**
 * `kiln profile`: per program, a row per kernel with its share of the run, its rate and threads;
 * the shares add up to the whole; no kernel of an optimized program runs JavaScript.
 */
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { profile } from "../src/cli/profile.js";
import { layerNorm, linear, mse, relu, seq } from "../src/index.js";

describe("kiln profile", () => {
  const loaded = { model: seq(linear(5, 16), layerNorm(16), relu, linear(16, 3)), options: { inputs: 5, batch: 8, loss: mse() }, file: "m.ts" };

  it("prints each program's kernels with shares that add up to 100%, rates, threads and the arena", () => {
    const text = profile(loaded, { steps: 3, threads: 1, top: 100 });
    expect(text).toMatch(/^m\.ts: batch 8, 1 thread, 3 timed runs per program; parameters, state and optimizer buffers \d+\.\d\d MiB/);
    const sections = text.split(/\n(?=── )/).slice(1);
    expect(sections.map((s) => s.match(/^── (\w[\w ]*)/)![1])).toEqual(["train step ", "gradients ", "predict "]);
    for (const s of sections) {
      expect(s).toMatch(/kernels only, mean of 3 runs\), \d+ kernels, scratch arena \d+\.\d\d MiB ──/);
      const rows = s.split("\n").filter((l) => /^\s+\d+\.\d%/.test(l));
      const kernels = Number(s.match(/(\d+) kernels, scratch/)![1]);
      expect(rows.length).toBe(kernels); // top: 100, so every kernel is listed
      const share = rows.reduce((t, l) => t + Number(l.trim().split("%")[0]), 0);
      expect(Math.abs(share - 100)).toBeLessThan(0.1 * rows.length + 0.01);
      for (const l of rows) expect(l).toMatch(/(GFLOP\/s|GB\/s|–)\s+1  #\d+ \w+ \(\w+\) \[/);
      expect(s).not.toContain("[JavaScript]");
    }
    // The layerNorm's statistics (relu recomputes its y, compiler/passes/recomputeXhat.ts).
    expect(text).toMatch(/#\d+ normForward \(norm_forward\) \[8,16\] → \[8,1\] \[8,1\] \[8,1\]/);
    expect(text).toMatch(/#\d+ linear \(linear\) \[8,5\] \[16,5\] \[16\] → \[8,16\]/);
  });

  it("times checked programs too (checkNumerics: each step's time includes its checks)", () => {
    const text = profile({ ...loaded, options: { ...loaded.options, checkNumerics: true } }, { steps: 3, threads: 1, top: 100 });
    for (const s of text.split(/\n(?=── )/).slice(1)) {
      expect(s).toMatch(/kernels only, mean of 3 runs\)/);
      const us = s.split("\n").filter((l) => /^\s+\d+\.\d%/.test(l)).map((l) => Number(l.trim().split(/\s+/)[1]));
      expect(us.reduce((t, u) => t + u, 0)).toBeGreaterThan(0);
    }
  });

  it("profiles the README's model file, whose cosine schedule has no length (the timed steps are the run)", async () => {
    const out: string[] = [];
    expect(await main(["profile", "examples/models/mlp.ts", "--batch", "8", "--steps", "2", "--threads", "1"], (s) => out.push(s))).toBe(0);
    expect(out.join("\n")).toMatch(/^examples\/models\/mlp\.ts: batch 8, 1 thread, 2 timed runs per program/);
    expect(out.join("\n")).toMatch(/── train step \(net\.trainStep: [\d.]+ µs per call\)/);
  });

  it("is a command with --help, and refuses a bad flag", async () => {
    const out: string[] = [];
    expect(await main(["profile", "--help"], (s) => out.push(s))).toBe(0);
    expect(out.join("\n")).toMatch(/usage: kiln profile <file\.ts> \[--batch N\] \[--steps N\]/);
    await expect(main(["profile", "examples/models/mlp.ts", "--steps", "0"], () => {})).rejects.toThrow(/--steps must be a positive integer, got "0"/);
  });
});
