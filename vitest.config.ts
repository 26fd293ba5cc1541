import { defineConfig } from "vitest/config";

// A test of ordinary size that passes 5 s (vitest's default limit) means a busy machine, not a
// failure: the suite runs on 2 cores, its files two at a time, often beside other work, and a
// test compiling four nets once took longer there. Tests slow by design set their own limit.
export default defineConfig({ test: { testTimeout: 30_000, hookTimeout: 30_000 } });
