import { describe, expect, it } from "vitest";
import { parseDockerfile } from "./dockerfile.ts";
import { parseRecipe, SpecError } from "./recipe.ts";

function errorOf(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpecError) return err;
    throw err;
  }
  throw new Error("expected a SpecError");
}

describe("recipe parser", () => {
  it("parses every instruction, continuations and comments", () => {
    const spec = parseRecipe(
      [
        "# a comment",
        "RUN echo one && \\",
        "    echo two",
        "",
        'ENV GREETING="hello world" MODE=prod',
        "ENV LEGACY some value",
        "COPY app/ /srv/app/",
        "WORKDIR /srv/app",
        "USER builder",
        "START python3 -m http.server 8000",
        "READY curl -sf localhost:8000",
      ].join("\n"),
    );
    expect(spec.steps).toEqual([
      { kind: "run", command: "echo one &&  echo two", line: 2 },
      { kind: "env", envs: { GREETING: "hello world", MODE: "prod" }, line: 5 },
      { kind: "env", envs: { LEGACY: "some value" }, line: 6 },
      { kind: "copy", src: "app/", dest: "/srv/app/", line: 7 },
      { kind: "workdir", path: "/srv/app", line: 8 },
      { kind: "user", user: "builder", line: 9 },
    ]);
    expect(spec.startCmd).toBe("python3 -m http.server 8000");
    expect(spec.readyCmd).toBe("curl -sf localhost:8000");
  });

  it("names the line of an unknown instruction", () => {
    const err = errorOf(() => parseRecipe("RUN true\n\nFROBNICATE x\n"));
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/^line 3: unknown instruction FROBNICATE/);
  });

  it("refuses malformed arguments with their line", () => {
    expect(errorOf(() => parseRecipe("RUN true\nENV =x")).message).toMatch(/^line 2: expected NAME=value/);
    expect(errorOf(() => parseRecipe("COPY onlyone")).message).toMatch(/^line 1: COPY takes exactly/);
    expect(errorOf(() => parseRecipe("COPY ../etc/passwd /x")).message).toMatch(/'\.\.'/);
    expect(errorOf(() => parseRecipe("USER Bad:Name")).message).toMatch(/^line 1: invalid user name/);
    expect(errorOf(() => parseRecipe('RUN true\nENV A="open')).message).toMatch(/^line 2: unterminated/);
    expect(errorOf(() => parseRecipe("RUN true\nREADY true")).message).toMatch(
      /^line 2: a ready check needs a start/,
    );
    expect(errorOf(() => parseRecipe("# nothing\n")).message).toMatch(/no steps/);
  });
});

describe("Dockerfile subset", () => {
  it("maps FROM/RUN/ENV/COPY/ADD/WORKDIR/USER/ENTRYPOINT+CMD/HEALTHCHECK onto steps", () => {
    const spec = parseDockerfile(
      [
        "FROM my-base",
        "LABEL org=wrenn",
        'RUN ["/bin/sh", "-c", "echo it\'s"]',
        "ENV PORT=8080",
        "COPY server.py /app/",
        "ADD data /app/data",
        "WORKDIR /app",
        "USER app",
        "EXPOSE 8080",
        'ENTRYPOINT ["python3"]',
        'CMD ["server.py", "--port", "8080"]',
        "HEALTHCHECK CMD curl -sf localhost:8080",
      ].join("\n"),
    );
    expect(spec.from).toBe("my-base");
    expect(spec.steps.map((s) => s.kind)).toEqual(["run", "env", "copy", "copy", "workdir", "user"]);
    expect(spec.steps[0]).toMatchObject({ command: "/bin/sh -c 'echo it'\\''s'" });
    expect(spec.startCmd).toBe("python3 server.py --port 8080");
    expect(spec.readyCmd).toBe("curl -sf localhost:8080");
  });

  it("refuses unsupported instructions naming the line", () => {
    expect(errorOf(() => parseDockerfile("FROM base\nRUN true\nVOLUME /data")).message).toBe(
      "line 3: unsupported Dockerfile instruction VOLUME",
    );
    expect(errorOf(() => parseDockerfile("FROM a\nRUN x\nFROM b")).message).toMatch(/^line 3: multi-stage/);
    expect(errorOf(() => parseDockerfile("RUN true")).message).toMatch(/^line 1: expected FROM/);
    expect(errorOf(() => parseDockerfile("FROM a\nCOPY --from=x a b")).message).toMatch(
      /^line 2: COPY option --from/,
    );
    expect(errorOf(() => parseDockerfile("FROM a\nADD https://x/y /y")).message).toMatch(
      /^line 2: ADD from a URL/,
    );
    expect(errorOf(() => parseDockerfile("FROM scratch\nRUN true")).message).toMatch(/^line 1: FROM scratch/);
  });
});

describe("FROM an OCI image", () => {
  it("reads a name with a registry, namespace, tag or digest as an image, a bare name as a template", () => {
    const image = parseDockerfile("FROM 127.0.0.1:5000/team/app:v1\nRUN true");
    expect(image.fromImage).toEqual({ ref: "127.0.0.1:5000/team/app:v1" });
    expect(image.from).toBeUndefined();
    expect(parseDockerfile("FROM debian:12\nRUN true").fromImage).toEqual({ ref: "debian:12" });
    const template = parseDockerfile("FROM my-base\nRUN true");
    expect(template.from).toBe("my-base");
    expect(template.fromImage).toBeUndefined();
    expect(parseDockerfile(`FROM ghcr.io/org/img@sha256:${"a".repeat(64)}\nRUN true`).fromImage).toEqual({
      ref: `ghcr.io/org/img@sha256:${"a".repeat(64)}`,
    });
  });

  it("names the line of a bad reference", () => {
    expect(errorOf(() => parseDockerfile("FROM bad:ref:\u00e9\nRUN true")).message).toMatch(
      /^line 1: image reference/,
    );
  });
});
