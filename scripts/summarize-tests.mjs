// Prints vitest's JSON results (one or more files) as the single line CI reads:
// "N passed, N failed", and exits non-zero when anything failed. Each argument is
// `results.json:exitStatus` (the status of the vitest run that wrote it). A test file that
// failed to load (no tests ran) counts as one failure; so does a missing results file (the
// runner crashed before writing it) and a run that exited non-zero with no failed test in its
// report (vitest fails a run on unhandled errors, which the JSON report does not list).
import { existsSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const arg of process.argv.slice(2)) {
  const separator = arg.lastIndexOf(":");
  const file = separator > 0 ? arg.slice(0, separator) : arg;
  const exitStatus = separator > 0 ? Number(arg.slice(separator + 1)) : 0;
  if (!existsSync(file)) {
    console.error(`summarize-tests: ${file} missing (test runner crashed?)`);
    failed += 1;
    continue;
  }
  const results = JSON.parse(readFileSync(file, "utf8"));
  let failedHere = 0;
  for (const suite of results.testResults ?? []) {
    const assertions = suite.assertionResults ?? [];
    if (suite.status === "failed" && assertions.every((a) => a.status !== "failed")) failedHere += 1;
    for (const a of assertions) {
      if (a.status === "passed") passed += 1;
      else if (a.status === "failed") failedHere += 1;
      else skipped += 1;
    }
  }
  if (exitStatus !== 0 && failedHere === 0) {
    console.error(
      `summarize-tests: the run behind ${file} exited ${exitStatus} with no failed test (unhandled errors?)`,
    );
    failedHere = 1;
  }
  failed += failedHere;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = failed > 0 ? 1 : 0;
