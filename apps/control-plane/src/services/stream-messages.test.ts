import { describe, expect, it } from "vitest";
import {
  decodeData,
  ExecClientMessage,
  encodeData,
  ProcessClientMessage,
  PtyClientMessage,
  parseClientMessage,
} from "./stream-messages.ts";

const exec = (raw: string) => parseClientMessage(ExecClientMessage, raw, false);
const pty = (raw: string) => parseClientMessage(PtyClientMessage, raw, false);

describe("stream messages", () => {
  it("parses every exec/stream client message", () => {
    expect(exec('{"type":"start","cmd":"cat","envs":{"A":"1"},"cwd":"/tmp","timeout_sec":5}')).toEqual({
      ok: true,
      message: { type: "start", cmd: "cat", envs: { A: "1" }, cwd: "/tmp", timeout_sec: 5 },
    });
    expect(exec('{"type":"start","cmd":"/bin/ls","args":["-l"]}')).toMatchObject({
      ok: true,
      message: { args: ["-l"] },
    });
    expect(exec('{"type":"stdin","data":"aGk="}')).toEqual({
      ok: true,
      message: { type: "stdin", data: "aGk=" },
    });
    expect(exec('{"type":"close_stdin"}')).toEqual({ ok: true, message: { type: "close_stdin" } });
    expect(exec('{"type":"signal","signal":"SIGTERM"}')).toMatchObject({ ok: true });
  });

  it("names what is wrong with a malformed message instead of throwing", () => {
    expect(exec("not json")).toEqual({ ok: false, error: "message is not valid JSON" });
    expect(parseClientMessage(ExecClientMessage, Buffer.from("{}"), true)).toEqual({
      ok: false,
      error: "messages must be JSON text frames",
    });
    expect(exec('{"type":"launch"}')).toMatchObject({ ok: false, error: expect.stringMatching(/^type: /) });
    expect(exec("[1]")).toMatchObject({ ok: false, error: expect.stringMatching(/^message: /) });
    expect(exec('{"type":"start"}')).toMatchObject({ ok: false, error: expect.stringMatching(/^cmd: /) });
    expect(exec('{"type":"start","cmd":"ls","shell":true}')).toMatchObject({
      ok: false,
      error: expect.stringContaining("shell"),
    });
    expect(exec('{"type":"stdin","data":"no spaces allowed"}')).toEqual({
      ok: false,
      error: "data: must be base64",
    });
    expect(exec('{"type":"signal","signal":"SIGHUP"}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^signal: /),
    });
    expect(exec('{"type":"start","cmd":"ls","timeout_sec":0}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^timeout_sec: /),
    });
    expect(exec('{"type":"start","cmd":"ls","user":"../root"}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^user: /),
    });
    expect(exec('{"type":"start","cmd":"id","user":"root"}')).toMatchObject({
      ok: true,
      message: { user: "root" },
    });
  });

  it("has no start message on process streams", () => {
    expect(parseClientMessage(ProcessClientMessage, '{"type":"stdin","data":""}', false)).toMatchObject({
      ok: true,
    });
    expect(parseClientMessage(ProcessClientMessage, '{"type":"start","cmd":"ls"}', false)).toMatchObject({
      ok: false,
    });
  });

  it("parses PTY messages and validates tags and sizes", () => {
    expect(pty('{"type":"start","cols":80,"rows":24}')).toEqual({
      ok: true,
      message: { type: "start", cols: 80, rows: 24 },
    });
    expect(pty('{"type":"start","tag":"term-1","cols":80,"rows":24,"cmd":"top"}')).toMatchObject({
      ok: true,
    });
    expect(pty('{"type":"input","data":"ZWNobyBoaQ0="}')).toMatchObject({ ok: true });
    expect(pty('{"type":"resize","cols":120,"rows":40}')).toMatchObject({ ok: true });
    expect(pty('{"type":"kill"}')).toMatchObject({ ok: true });
    expect(pty('{"type":"start","tag":"../etc","cols":80,"rows":24}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^tag: /),
    });
    expect(pty('{"type":"start","cols":0,"rows":24}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^cols: /),
    });
    expect(pty('{"type":"resize","cols":80,"rows":"24"}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^rows: /),
    });
    expect(pty('{"type":"stdin","data":""}')).toMatchObject({ ok: false });
  });

  it("round-trips binary data through base64", () => {
    const bytes = new Uint8Array([0, 255, 10, 13, 27]);
    const sub = new Uint8Array([9, ...bytes, 9]).subarray(1, 6);
    expect(encodeData(sub)).toBe(Buffer.from(bytes).toString("base64"));
    expect([...decodeData(encodeData(sub))]).toEqual([...bytes]);
  });
});
