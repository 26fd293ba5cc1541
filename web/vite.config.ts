import { defineConfig } from "vite";

// The page under web/, built into web/dist (npm run web builds and serves it: web/serve.ts).
export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  logLevel: "warn",
  build: {
    outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true, reportCompressedSize: false,
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  worker: { format: "es" },
});
