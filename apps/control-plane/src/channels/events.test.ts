import { describe, expect, it } from "vitest";
import { type AuditFacts, eventFromAudit, eventsFromAudit, eventTypes, renderMessage } from "./events.ts";

const base: AuditFacts = {
  teamId: "t1",
  resourceType: "sandbox",
  resourceId: "sb-1",
  action: "create",
  status: "success",
  actorName: "alice",
  metadata: {},
};

describe("audit entries → lifecycle events", () => {
  it("maps every lifecycle change the audit path records, and nothing else", () => {
    const cases: [Partial<AuditFacts>, string | undefined][] = [
      [{}, "sandbox.created"],
      [{ status: "error" }, "sandbox.failed"],
      [{ action: "pause" }, "sandbox.paused"],
      [{ action: "resume" }, "sandbox.resumed"],
      [{ action: "reconcile_paused" }, "sandbox.auto_paused"],
      [{ action: "destroy" }, "sandbox.destroyed"],
      [{ action: "fork" }, "sandbox.forked"],
      [{ action: "fork", status: "error" }, undefined],
      [{ action: "lost" }, "sandbox.failed"],
      [{ action: "reconcile_running" }, undefined],
      [{ resourceType: "template", action: "create" }, "template.created"],
      [{ resourceType: "template", action: "create", status: "error" }, undefined],
      [{ resourceType: "template", action: "delete" }, "template.deleted"],
      [{ resourceType: "build", action: "build.succeeded" }, "build.succeeded"],
      [{ resourceType: "build", action: "build.failed" }, "build.failed"],
      [{ resourceType: "build", action: "build.cancelled" }, "build.cancelled"],
      [{ resourceType: "host", action: "register" }, "host.online"],
      [{ resourceType: "host", action: "reconnect" }, "host.online"],
      [{ resourceType: "host", action: "unreachable" }, "host.unreachable"],
      [{ resourceType: "host", action: "delete" }, "host.deleted"],
      [{ resourceType: "host", action: "tag_add" }, undefined],
      [{ resourceType: "api_key", action: "create" }, undefined],
      [{ resourceType: "channel", action: "auto_disable" }, undefined],
    ];
    for (const [facts, type] of cases) {
      expect(eventFromAudit({ ...base, ...facts })?.type, JSON.stringify(facts)).toBe(type);
    }
    // Every catalogued type has at least one audit entry producing it.
    const produced = new Set(cases.map(([, t]) => t));
    for (const t of eventTypes) expect(produced.has(t), t).toBe(true);
  });

  it("reports a template a build made as created too (a rebuild reports its predecessor deleted)", () => {
    const built = eventsFromAudit({
      ...base,
      resourceType: "build",
      resourceId: "bld-1",
      action: "build.succeeded",
      actorName: "system",
      metadata: { name: "py", template_id: "tpl-9", type: "template" },
    });
    expect(built.map((e) => [e.type, e.resourceType, e.resourceId])).toEqual([
      ["build.succeeded", "build", "bld-1"],
      ["template.created", "template", "tpl-9"],
    ]);
    expect(built[1]?.details).toEqual({ name: "py", reason: "built by bld-1" });
    expect(
      renderMessage({ ...(built[1] as (typeof built)[number]), id: "2-0" }, "https://w.example"),
    ).toMatchObject({
      text: "Template created: tpl-9 · py · built by bld-1",
      link: "https://w.example/templates",
    });
    // One event for entries that are one; none for entries that are none.
    expect(eventsFromAudit({ ...base, action: "pause" }).map((e) => e.type)).toEqual(["sandbox.paused"]);
    expect(eventsFromAudit({ ...base, resourceType: "build", action: "build.failed" })).toHaveLength(1);
    expect(eventsFromAudit({ ...base, resourceType: "api_key", action: "create" })).toEqual([]);
  });

  it("keeps only short, known metadata facts (never arbitrary fields)", () => {
    const e = eventFromAudit({
      ...base,
      status: "error",
      metadata: { template: "python", error: "x".repeat(1000), envd_access_token: "tok", nested: { a: 1 } },
    });
    expect(Object.keys(e?.details ?? {}).sort()).toEqual(["error", "template"]);
    expect(e?.details.error).toHaveLength(300);
  });

  it("renders a one-line message that names the resource and links to its dashboard page", () => {
    const e = eventFromAudit({
      ...base,
      status: "error",
      metadata: { template: "python", error: "no host" },
    });
    if (!e) throw new Error("no event");
    const m = renderMessage({ ...e, id: "1-0" }, "https://w.example");
    expect(m.text).toBe("Capsule failed: sb-1 · template python · error: no host · by alice");
    expect(m.link).toBe("https://w.example/capsules/sb-1");
    expect(renderMessage({ ...e, id: "1-0" }, undefined).link).toBeUndefined();
    // Links go to pages the dashboard has: builds have their own, hosts and templates their lists.
    const link = (facts: Partial<AuditFacts>) => {
      const ev = eventFromAudit({ ...base, ...facts });
      if (!ev) throw new Error(JSON.stringify(facts));
      return renderMessage({ ...ev, id: "1-0" }, "https://w.example").link;
    };
    expect(link({ resourceType: "build", resourceId: "bld-1", action: "build.failed" })).toBe(
      "https://w.example/builds/bld-1",
    );
    expect(link({ resourceType: "template", resourceId: "tpl-1", action: "delete" })).toBe(
      "https://w.example/templates",
    );
    expect(link({ resourceType: "host", resourceId: "host-1", action: "unreachable", teamId: null })).toBe(
      "https://w.example/admin/hosts",
    );
    expect(link({ resourceType: "host", resourceId: "host-1", action: "unreachable" })).toBe(
      "https://w.example/hosts",
    );
  });
});
