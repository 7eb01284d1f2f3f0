// Prints vitest's JSON results as the single line CI reads: "N passed, N failed".
// A test file that failed to load (no tests ran) counts as one failure.
import { existsSync, readFileSync } from "node:fs";

const file = process.argv[2] ?? ".vitest-results.json";
if (!existsSync(file)) {
  console.log("0 passed, 1 failed");
  process.exit(0);
}
const results = JSON.parse(readFileSync(file, "utf8"));
let passed = 0;
let failed = 0;
let skipped = 0;
for (const suite of results.testResults ?? []) {
  const assertions = suite.assertionResults ?? [];
  if (suite.status === "failed" && assertions.every((a) => a.status !== "failed")) failed += 1;
  for (const a of assertions) {
    if (a.status === "passed") passed += 1;
    else if (a.status === "failed") failed += 1;
    else skipped += 1;
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
