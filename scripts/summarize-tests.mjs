// Prints vitest's JSON results (one or more files) as the single line CI reads:
// "N passed, N failed". A test file that failed to load (no tests ran) counts as one
// failure, and so does a missing results file (the runner crashed before writing it).
import { existsSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.error(`summarize-tests: ${file} missing (test runner crashed?)`);
    failed += 1;
    continue;
  }
  const results = JSON.parse(readFileSync(file, "utf8"));
  for (const suite of results.testResults ?? []) {
    const assertions = suite.assertionResults ?? [];
    if (suite.status === "failed" && assertions.every((a) => a.status !== "failed")) failed += 1;
    for (const a of assertions) {
      if (a.status === "passed") passed += 1;
      else if (a.status === "failed") failed += 1;
      else skipped += 1;
    }
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
