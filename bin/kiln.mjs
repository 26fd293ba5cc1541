#!/usr/bin/env node
// The `kiln` command. In kiln's own checkout it runs the TypeScript sources (through tsx);
// installed from npm it runs the built JavaScript in dist/. A model file in plain JavaScript
// (model.mjs) needs nothing more; one in TypeScript needs tsx in the project, registered here
// when it can be found: its ESM hooks, and its CommonJS ones for a model.ts in a project whose
// package.json has no "type": "module" (Node then loads the file as CommonJS, and without
// tsx's require hook fails with "Cannot require() ES Module … in a cycle").
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const fromSource = existsSync(source);
try {
  (await import("tsx/esm/api")).register();
  (await import("tsx/cjs/api")).register();
} catch (e) {
  if (fromSource) throw e; // the checkout has tsx as a dev dependency: its absence is a real error
}
const { run } = await import(fromSource ? source.href : "../dist/src/cli/main.js");
process.exitCode = await run(process.argv.slice(2));
