import { describe, expect, it } from "vitest";
import { findStaleGeneratedFiles } from "./codegen.ts";

describe("generated code", () => {
  it("matches what buf generate produces from proto/ (run `npm run generate -w @wrenn/proto` if not)", () => {
    expect(findStaleGeneratedFiles()).toEqual([]);
  });
});
