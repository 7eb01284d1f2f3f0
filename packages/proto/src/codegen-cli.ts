/**
 * Command-line entry for code generation.
 *   generate        rewrite src/gen from proto/
 *   check           exit 1 when src/gen is not what generation would produce
 *   lint            buf lint + buf format check of proto/
 */
import { findStaleGeneratedFiles, runBufGenerate, runBufLint } from "./codegen.ts";

const command = process.argv[2];
if (command === "generate") {
  runBufGenerate();
} else if (command === "check") {
  const stale = findStaleGeneratedFiles();
  if (stale.length > 0) {
    console.error(
      `generated code is stale; run "npm run generate -w @wrenn/proto". Differs: ${stale.join(", ")}`,
    );
    process.exitCode = 1;
  } else {
    console.log("generated code is up to date");
  }
} else if (command === "lint") {
  runBufLint();
} else {
  console.error("usage: codegen-cli.ts generate|check|lint");
  process.exitCode = 2;
}
