/** Run the `kiln` command line in-process and return what it printed, one string. */
import { main } from "../../src/cli/main.js";

export async function cliOutput(args: string[]): Promise<string> {
  const lines: string[] = [];
  await main(args, (s) => lines.push(s));
  return lines.join("\n");
}
