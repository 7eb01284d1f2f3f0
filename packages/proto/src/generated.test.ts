import { describe, expect, it } from "vitest";
import { findStaleGeneratedFiles, runBufLint } from "./codegen.ts";

describe("generated code", () => {
  it("matches what buf generate produces from proto/ (run `npm run generate -w @wrenn/proto` if not)", () => {
    expect(findStaleGeneratedFiles()).toEqual([]);
  });

  it("comes from .proto files that pass buf lint and buf format", () => {
    expect(() => runBufLint()).not.toThrow();
  });
});
