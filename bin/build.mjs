// `npm run build`: dist/ from the sources with tsc (ESM .js, .d.ts, source maps with the sources
// inlined), plus what is loaded by URL at run time: the compute-thread script.
import { execFileSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";

process.chdir(new URL("..", import.meta.url).pathname);
rmSync("dist", { recursive: true, force: true });
const tsc = "node_modules/typescript/bin/tsc"; // the package exports no subpath for its bin
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
copyFileSync("runtime/worker.mjs", "dist/runtime/worker.mjs");
