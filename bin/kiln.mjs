#!/usr/bin/env node
// The `kiln` command: registers tsx so model files written in TypeScript load, then runs the CLI.
import { register } from "tsx/esm/api";

register();
const { run } = await import("../src/cli/main.ts");
process.exitCode = await run(process.argv.slice(2));
