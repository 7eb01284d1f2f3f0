import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TARGETS } from "../scripts/build.mjs";

// The deployment recipe, checked with the tools that will run it: systemd's own verifier for
// the units and Caddy's for the Caddyfile (Debian packages `systemd` and `caddy`). Docker
// cannot run here: the Dockerfile is checked against the build targets it relies on.
const here = fileURLToPath(new URL(".", import.meta.url));
const read = (f: string) => readFileSync(join(here, f), "utf8");
const scratch = mkdtempSync(join(tmpdir(), "wrenn-deploy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `Key=value` lines of a unit's sections, last one wins. */
function unitSettings(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(file).split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m?.[1]) out[m[1]] = m[2] ?? "";
  }
  return out;
}

describe("deploy/", () => {
  it("has systemd units that systemd-analyze verifies, running the bundles", () => {
    for (const unit of ["wrenn-control-plane.service", "wrenn-agent.service"])
      copyFileSync(join(here, unit), join(scratch, unit));
    const verify = spawnSync(
      "systemd-analyze",
      ["verify", join(scratch, "wrenn-control-plane.service"), join(scratch, "wrenn-agent.service")],
      { encoding: "utf8" },
    );
    expect(verify.error, "systemd-analyze (Debian package systemd) must be installed").toBeUndefined();
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr).not.toMatch(/wrenn-(agent|control-plane)\.service/);

    const cp = unitSettings("wrenn-control-plane.service");
    expect(cp.ExecStart).toContain(`/opt/wrenn/${TARGETS["control-plane"]?.outdir}/main.mjs`);
    const agent = unitSettings("wrenn-agent.service");
    expect(agent.ExecStart).toContain(`/opt/wrenn/${TARGETS["host-agent"]?.outdir}/main.mjs`);
    // An upgrade (SIGUSR2) ends the agent cleanly and must not take its VMs along.
    expect(agent).toMatchObject({ KillMode: "process", Restart: "always", User: "root" });
    expect(agent.ExecStart).not.toMatch(/--register|wrh_/);
  });

  it("has a Caddyfile that caddy validates, proxying the apex and every sandbox subdomain", () => {
    execFileSync("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", join(scratch, "key.pem"), "-out", join(scratch, "cert.pem"), "-days", "1"],
      ...["-subj", "/CN=wrenn.example.com"],
    ]);
    // The one-control-plane file and the two-control-plane one (load balanced).
    for (const name of ["Caddyfile", "Caddyfile.two-control-planes"]) {
      const caddyfile = read(name)
        .replace("/etc/wrenn/tls/fullchain.pem", join(scratch, "cert.pem"))
        .replace("/etc/wrenn/tls/privkey.pem", join(scratch, "key.pem"));
      writeFileSync(join(scratch, name), caddyfile);
      const validate = spawnSync(
        "caddy",
        ["validate", "--config", join(scratch, name), "--adapter", "caddyfile"],
        {
          encoding: "utf8",
          env: { ...process.env, HOME: scratch, XDG_DATA_HOME: scratch, XDG_CONFIG_HOME: scratch },
        },
      );
      expect(validate.error, "caddy (Debian package caddy) must be installed").toBeUndefined();
      expect(validate.status, `${name}: ${validate.stderr}`).toBe(0);
    }
    expect(read("Caddyfile")).toMatch(/^wrenn\.example\.com, \*\.wrenn\.example\.com \{/m);
    expect(read("Caddyfile")).toContain("reverse_proxy 127.0.0.1:8080");
  });

  it("has a Dockerfile that builds existing targets and runs the control plane's bundle", () => {
    const dockerfile = read("Dockerfile");
    const built =
      /RUN node scripts\/build\.mjs ([\w\s-]+)\n/.exec(dockerfile)?.[1]?.trim().split(/\s+/) ?? [];
    expect(built).toContain("control-plane");
    for (const t of built) expect(Object.keys(TARGETS)).toContain(t);
    expect(dockerfile).toContain(
      `CMD ["node", "--enable-source-maps", "${TARGETS["control-plane"]?.outdir}/main.mjs"]`,
    );
    // The bundle finds migrations under packages/db and the dashboard under apps/dashboard/dist.
    expect(dockerfile).toMatch(/COPY --from=build \/src\/packages \.\/packages/);
    expect(dockerfile).toMatch(/COPY --from=build \/src\/apps\/dashboard\/dist/);
    expect(read("Dockerfile.dockerignore")).toMatch(/^\*\*\/node_modules$/m);
  });

  it("documents every setting of the env examples in the apps' READMEs", () => {
    const docs = readFileSync(join(here, "../apps/control-plane/README.md"), "utf8");
    for (const line of read("control-plane.env.example").split("\n")) {
      const name = /^#?([A-Z_]+)=/.exec(line)?.[1];
      if (name) expect(docs, name).toContain(`\`${name}\``);
    }
  });
});
