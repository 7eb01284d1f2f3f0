import { WrennError } from "@wrenn/common";
import { describe, expect, it } from "vitest";
import { e2bTemplateToSpec, redactTemplate } from "./template-steps.ts";

const hash = "a".repeat(64);

describe("e2bTemplateToSpec", () => {
  it("maps the SDK's instructions onto Wrenn's steps, per-step users restored after the step", () => {
    const mapped = e2bTemplateToSpec({
      fromTemplate: "base",
      startCmd: "python3 -m http.server 8000",
      readyCmd: "[ -f /tmp/ready ]",
      steps: [
        { type: "RUN", args: ["echo hi"] },
        { type: "RUN", args: ["apt-get update && apt-get install -y jq", "root"] },
        { type: "ENV", args: ["A", "1", "B", "two words"] },
        { type: "COPY", args: ["app", "/srv/app", "", "0755"], filesHash: hash },
        { type: "WORKDIR", args: ["/srv"] },
        { type: "USER", args: ["root"] },
        { type: "RUN", args: ["id -u", "root"], force: true },
      ],
    });
    expect(mapped.from).toBe("minimal");
    expect(mapped.skipCache).toBe(true);
    expect(mapped.filesHashes).toEqual([hash]);
    expect(mapped.spec).toEqual({
      startCmd: "python3 -m http.server 8000",
      readyCmd: "[ -f /tmp/ready ]",
      steps: [
        { kind: "run", command: "echo hi" },
        { kind: "user", user: "root" },
        { kind: "run", command: "apt-get update && apt-get install -y jq" },
        { kind: "user", user: "user" },
        { kind: "env", envs: { A: "1", B: "two words" } },
        { kind: "copy", src: "app", dest: "/srv/app" },
        { kind: "run", command: "chmod -R 0755 /srv/app" },
        { kind: "workdir", path: "/srv" },
        { kind: "user", user: "root" },
        { kind: "run", command: "id -u" },
      ],
    });
  });

  it("reads fromBaseImage() as Wrenn's minimal template and keeps fromTemplate names", () => {
    expect(e2bTemplateToSpec({ fromImage: "e2bdev/base", steps: [] }).from).toBe("minimal");
    expect(e2bTemplateToSpec({ steps: [] }).from).toBe("minimal");
    expect(e2bTemplateToSpec({ fromTemplate: "my-python", steps: [] }).from).toBe("my-python");
  });

  it("maps fromImage (with basic registry credentials) onto an image base", () => {
    expect(e2bTemplateToSpec({ fromImage: "ubuntu:22.04", steps: [] }).from).toBe("ubuntu:22.04");
    expect(e2bTemplateToSpec({ fromImage: "ubuntu", steps: [] }).from).toBe("ubuntu:latest");
    const withAuth = e2bTemplateToSpec({
      fromImage: "127.0.0.1:5000/team/app:1",
      fromImageRegistry: { type: "registry", username: "u", password: "p" },
      steps: [],
    });
    expect(withAuth).toMatchObject({
      from: "127.0.0.1:5000/team/app:1",
      registryAuth: { username: "u", password: "p" },
    });
    // Stored for display without the password.
    const shown = JSON.stringify(
      redactTemplate({
        fromImage: "x:1",
        fromImageRegistry: { type: "registry", username: "u", password: "p" },
        steps: [],
      }),
    );
    expect(shown).not.toContain('"p"');
    expect(shown).toContain("redacted");
  });

  it("refuses what it cannot honour with invalid_argument", () => {
    const bad = [
      { fromImage: "x:1", fromImageRegistry: { type: "aws", awsAccessKeyId: "a" }, steps: [] },
      { fromImage: "x:1", fromImageRegistry: { type: "registry", username: "u" }, steps: [] },
      { steps: [{ type: "HEALTHCHECK", args: ["x"] }] },
      { steps: [{ type: "ENV", args: ["ODD"] }] },
      { steps: [{ type: "COPY", args: ["a", "/a"] }] },
      { steps: [{ type: "COPY", args: ["a", "/a", "", "rwx"], filesHash: hash }] },
    ];
    for (const t of bad) {
      let thrown: unknown;
      try {
        e2bTemplateToSpec(t);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(t)).toBeInstanceOf(WrennError);
      expect((thrown as WrennError).code).toBe("invalid_argument");
    }
  });
});
