/**
 * Guards wire compatibility of our envd protos with E2B's envd.
 *
 * The expected table below was typed by hand from E2B's spec
 * (e2b-dev/infra packages/envd/spec/{process,filesystem}/*.proto) and checked
 * against the descriptors embedded in the `e2b` npm SDK 2.51.0, which adds
 * EntryInfo.metadata (11) and allow_network_mounts (4) to the spec. Anything
 * that changes a name, number, type, label, oneof, enum value or streaming
 * kind in our .proto files makes this test fail.
 */
import type { DescFile, DescService } from "@bufbuild/protobuf";
import { isFieldSet } from "@bufbuild/protobuf";
import type { DescriptorProto, FieldDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Filesystem, file_envd_filesystem_filesystem } from "./gen/envd/filesystem/filesystem_pb.ts";
import { file_envd_process_process, Process } from "./gen/envd/process/process_pb.ts";

/** One envd proto file, described the way the test renders descriptors. */
interface WireTable {
  package: string;
  /** Method name → "kind input → output" with fully-qualified type names. */
  methods: Record<string, string>;
  /** Message full name → rendered fields "label type name = number [oneof]". */
  messages: Record<string, string[]>;
  /** Enum full name → "VALUE = number". */
  enums: Record<string, string[]>;
}

const processTable: WireTable = {
  package: "process",
  methods: {
    List: "unary .process.ListRequest → .process.ListResponse",
    Connect: "server_streaming .process.ConnectRequest → .process.ConnectResponse",
    Start: "server_streaming .process.StartRequest → .process.StartResponse",
    Update: "unary .process.UpdateRequest → .process.UpdateResponse",
    StreamInput: "client_streaming .process.StreamInputRequest → .process.StreamInputResponse",
    SendInput: "unary .process.SendInputRequest → .process.SendInputResponse",
    SendSignal: "unary .process.SendSignalRequest → .process.SendSignalResponse",
    CloseStdin: "unary .process.CloseStdinRequest → .process.CloseStdinResponse",
  },
  messages: {
    "process.PTY": [".process.PTY.Size size = 1"],
    "process.PTY.Size": ["uint32 cols = 1", "uint32 rows = 2"],
    "process.ProcessConfig": [
      "string cmd = 1",
      "repeated string args = 2",
      "map<string, string> envs = 3",
      "optional string cwd = 4",
    ],
    "process.ListRequest": [],
    "process.ProcessInfo": [".process.ProcessConfig config = 1", "uint32 pid = 2", "optional string tag = 3"],
    "process.ListResponse": ["repeated .process.ProcessInfo processes = 1"],
    "process.StartRequest": [
      ".process.ProcessConfig process = 1",
      "optional .process.PTY pty = 2",
      "optional string tag = 3",
      "optional bool stdin = 4",
    ],
    "process.UpdateRequest": [".process.ProcessSelector process = 1", "optional .process.PTY pty = 2"],
    "process.UpdateResponse": [],
    "process.ProcessEvent": [
      ".process.ProcessEvent.StartEvent start = 1 [oneof event]",
      ".process.ProcessEvent.DataEvent data = 2 [oneof event]",
      ".process.ProcessEvent.EndEvent end = 3 [oneof event]",
      ".process.ProcessEvent.KeepAlive keepalive = 4 [oneof event]",
    ],
    "process.ProcessEvent.StartEvent": ["uint32 pid = 1"],
    "process.ProcessEvent.DataEvent": [
      "bytes stdout = 1 [oneof output]",
      "bytes stderr = 2 [oneof output]",
      "bytes pty = 3 [oneof output]",
    ],
    "process.ProcessEvent.EndEvent": [
      "sint32 exit_code = 1",
      "bool exited = 2",
      "string status = 3",
      "optional string error = 4",
    ],
    "process.ProcessEvent.KeepAlive": [],
    "process.StartResponse": [".process.ProcessEvent event = 1"],
    "process.ConnectResponse": [".process.ProcessEvent event = 1"],
    "process.SendInputRequest": [".process.ProcessSelector process = 1", ".process.ProcessInput input = 2"],
    "process.SendInputResponse": [],
    "process.ProcessInput": ["bytes stdin = 1 [oneof input]", "bytes pty = 2 [oneof input]"],
    "process.StreamInputRequest": [
      ".process.StreamInputRequest.StartEvent start = 1 [oneof event]",
      ".process.StreamInputRequest.DataEvent data = 2 [oneof event]",
      ".process.StreamInputRequest.KeepAlive keepalive = 3 [oneof event]",
    ],
    "process.StreamInputRequest.StartEvent": [".process.ProcessSelector process = 1"],
    "process.StreamInputRequest.DataEvent": [".process.ProcessInput input = 2"],
    "process.StreamInputRequest.KeepAlive": [],
    "process.StreamInputResponse": [],
    "process.SendSignalRequest": [".process.ProcessSelector process = 1", ".process.Signal signal = 2"],
    "process.SendSignalResponse": [],
    "process.CloseStdinRequest": [".process.ProcessSelector process = 1"],
    "process.CloseStdinResponse": [],
    "process.ConnectRequest": [".process.ProcessSelector process = 1"],
    "process.ProcessSelector": ["uint32 pid = 1 [oneof selector]", "string tag = 2 [oneof selector]"],
  },
  enums: {
    "process.Signal": ["SIGNAL_UNSPECIFIED = 0", "SIGNAL_SIGKILL = 9", "SIGNAL_SIGTERM = 15"],
  },
};

const filesystemTable: WireTable = {
  package: "filesystem",
  methods: {
    Stat: "unary .filesystem.StatRequest → .filesystem.StatResponse",
    MakeDir: "unary .filesystem.MakeDirRequest → .filesystem.MakeDirResponse",
    Move: "unary .filesystem.MoveRequest → .filesystem.MoveResponse",
    ListDir: "unary .filesystem.ListDirRequest → .filesystem.ListDirResponse",
    Remove: "unary .filesystem.RemoveRequest → .filesystem.RemoveResponse",
    WatchDir: "server_streaming .filesystem.WatchDirRequest → .filesystem.WatchDirResponse",
    CreateWatcher: "unary .filesystem.CreateWatcherRequest → .filesystem.CreateWatcherResponse",
    GetWatcherEvents: "unary .filesystem.GetWatcherEventsRequest → .filesystem.GetWatcherEventsResponse",
    RemoveWatcher: "unary .filesystem.RemoveWatcherRequest → .filesystem.RemoveWatcherResponse",
  },
  messages: {
    "filesystem.MoveRequest": ["string source = 1", "string destination = 2"],
    "filesystem.MoveResponse": [".filesystem.EntryInfo entry = 1"],
    "filesystem.MakeDirRequest": ["string path = 1"],
    "filesystem.MakeDirResponse": [".filesystem.EntryInfo entry = 1"],
    "filesystem.RemoveRequest": ["string path = 1"],
    "filesystem.RemoveResponse": [],
    "filesystem.StatRequest": ["string path = 1"],
    "filesystem.StatResponse": [".filesystem.EntryInfo entry = 1"],
    "filesystem.EntryInfo": [
      "string name = 1",
      ".filesystem.FileType type = 2",
      "string path = 3",
      "int64 size = 4",
      "uint32 mode = 5",
      "string permissions = 6",
      "string owner = 7",
      "string group = 8",
      ".google.protobuf.Timestamp modified_time = 9",
      "optional string symlink_target = 10",
      "map<string, string> metadata = 11",
    ],
    "filesystem.ListDirRequest": ["string path = 1", "uint32 depth = 2"],
    "filesystem.ListDirResponse": ["repeated .filesystem.EntryInfo entries = 1"],
    "filesystem.WatchDirRequest": [
      "string path = 1",
      "bool recursive = 2",
      "bool include_entry = 3",
      "bool allow_network_mounts = 4",
    ],
    "filesystem.FilesystemEvent": [
      "string name = 1",
      ".filesystem.EventType type = 2",
      "optional .filesystem.EntryInfo entry = 3",
    ],
    "filesystem.WatchDirResponse": [
      ".filesystem.WatchDirResponse.StartEvent start = 1 [oneof event]",
      ".filesystem.FilesystemEvent filesystem = 2 [oneof event]",
      ".filesystem.WatchDirResponse.KeepAlive keepalive = 3 [oneof event]",
    ],
    "filesystem.WatchDirResponse.StartEvent": [],
    "filesystem.WatchDirResponse.KeepAlive": [],
    "filesystem.CreateWatcherRequest": [
      "string path = 1",
      "bool recursive = 2",
      "bool include_entry = 3",
      "bool allow_network_mounts = 4",
    ],
    "filesystem.CreateWatcherResponse": ["string watcher_id = 1"],
    "filesystem.GetWatcherEventsRequest": ["string watcher_id = 1"],
    "filesystem.GetWatcherEventsResponse": ["repeated .filesystem.FilesystemEvent events = 1"],
    "filesystem.RemoveWatcherRequest": ["string watcher_id = 1"],
    "filesystem.RemoveWatcherResponse": [],
  },
  enums: {
    "filesystem.FileType": [
      "FILE_TYPE_UNSPECIFIED = 0",
      "FILE_TYPE_FILE = 1",
      "FILE_TYPE_DIRECTORY = 2",
      "FILE_TYPE_SYMLINK = 3",
    ],
    "filesystem.EventType": [
      "EVENT_TYPE_UNSPECIFIED = 0",
      "EVENT_TYPE_CREATE = 1",
      "EVENT_TYPE_WRITE = 2",
      "EVENT_TYPE_REMOVE = 3",
      "EVENT_TYPE_RENAME = 4",
      "EVENT_TYPE_CHMOD = 5",
    ],
  },
};

/** Scalar or reference type of a non-map field, in .proto spelling. */
function typeName(field: FieldDescriptorProto): string {
  if (field.type === FieldDescriptorProto_Type.MESSAGE || field.type === FieldDescriptorProto_Type.ENUM) {
    return field.typeName;
  }
  return FieldDescriptorProto_Type[field.type].toLowerCase();
}

/**
 * Renders the raw descriptor (what actually defines the wire format) so it can
 * be compared with the table. Map-entry messages are folded into `map<k, v>`
 * fields, as they are written in .proto source.
 */
function renderFile(file: DescFile): Pick<WireTable, "package" | "messages" | "enums"> {
  const messages: Record<string, string[]> = {};
  const enums: Record<string, string[]> = {};
  const visit = (message: DescriptorProto, scope: string): void => {
    const fullName = `${scope}.${message.name}`;
    const mapEntries = new Map<string, DescriptorProto>();
    for (const nested of message.nestedType) {
      if (nested.options?.mapEntry) mapEntries.set(`.${fullName}.${nested.name}`, nested);
      else visit(nested, fullName);
    }
    for (const nested of message.enumType) {
      enums[`${fullName}.${nested.name}`] = nested.value.map((v) => `${v.name} = ${v.number}`);
    }
    messages[fullName] = message.field.map((field) => {
      const entry = mapEntries.get(field.typeName);
      let rendered: string;
      if (entry) {
        const [key, value] = entry.field;
        if (!key || !value) throw new Error(`malformed map entry ${field.typeName}`);
        rendered = `map<${typeName(key)}, ${typeName(value)}> ${field.name} = ${field.number}`;
      } else {
        const label =
          field.label === FieldDescriptorProto_Label.REPEATED
            ? "repeated "
            : field.proto3Optional
              ? "optional "
              : "";
        rendered = `${label}${typeName(field)} ${field.name} = ${field.number}`;
      }
      // descriptor.proto is proto2: an unset oneof_index reads as 0, so ask for presence.
      const inOneof = isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) && !field.proto3Optional;
      const oneof = inOneof ? message.oneofDecl[field.oneofIndex]?.name : undefined;
      return oneof ? `${rendered} [oneof ${oneof}]` : rendered;
    });
  };
  for (const message of file.proto.messageType) visit(message, file.proto.package);
  for (const en of file.proto.enumType) {
    enums[`${file.proto.package}.${en.name}`] = en.value.map((v) => `${v.name} = ${v.number}`);
  }
  return { package: file.proto.package, messages, enums };
}

/** Method name → "kind input → output", from the service descriptor. */
function renderMethods(service: DescService): Record<string, string> {
  const methods: Record<string, string> = {};
  for (const method of service.methods) {
    methods[method.name] = `${method.methodKind} .${method.input.typeName} → .${method.output.typeName}`;
  }
  return methods;
}

describe.each([
  { file: file_envd_process_process, service: Process, serviceName: "process.Process", table: processTable },
  {
    file: file_envd_filesystem_filesystem,
    service: Filesystem,
    serviceName: "filesystem.Filesystem",
    table: filesystemTable,
  },
])("envd $serviceName wire contract", ({ file, service, serviceName, table }) => {
  const rendered = renderFile(file);

  it("uses E2B's proto package and is proto3", () => {
    expect(rendered.package).toBe(table.package);
    expect(file.proto.syntax).toBe("proto3");
    expect(file.services.map((s) => s.typeName)).toEqual([serviceName]);
  });

  it("declares exactly the expected methods with their streaming kinds", () => {
    expect(service.typeName).toBe(serviceName);
    expect(renderMethods(service)).toEqual(table.methods);
  });

  it("exposes the Connect procedure paths the e2b SDK calls", () => {
    const paths = service.methods.map((m) => `/${service.typeName}/${m.name}`);
    expect(paths).toEqual(Object.keys(table.methods).map((name) => `/${serviceName}/${name}`));
  });

  it("declares exactly the expected messages", () => {
    expect(Object.keys(rendered.messages).sort()).toEqual(Object.keys(table.messages).sort());
  });

  it.each(Object.entries(table.messages))("message %s has the expected fields", (name, fields) => {
    expect(rendered.messages[name]).toEqual(fields);
  });

  it("declares exactly the expected enums and values", () => {
    expect(rendered.enums).toEqual(table.enums);
  });
});
