import { api, authHeaders, buildUrl, errorFromResponse } from "./client.ts";

/** Lifecycle states of a sandbox (capsule). */
export const sandboxStates = [
  "pending",
  "starting",
  "running",
  "paused",
  "stopped",
  "missing",
  "error",
] as const;
/** One of {@link sandboxStates}. */
export type SandboxState = (typeof sandboxStates)[number];

/** A sandbox as the API returns it. */
export interface Sandbox {
  id: string;
  state: SandboxState;
  template: string;
  host_id: string | null;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  timeout_sec: number;
  metadata: Record<string, string>;
  created_at: string;
  last_active_at: string | null;
}

/** One page of the sandbox list. */
export interface SandboxPage {
  sandboxes: Sandbox[];
  next_cursor: string | null;
}

/** Filters and position of the list. */
export interface SandboxListQuery {
  state?: string | undefined;
  template?: string | undefined;
  cursor?: string | undefined;
  limit?: number;
}

/** The team's sandboxes, newest first. */
export function listSandboxes(q: SandboxListQuery, signal?: AbortSignal): Promise<SandboxPage> {
  return api("GET", "/v1/sandboxes", {
    query: { state: q.state, template: q.template, cursor: q.cursor, limit: q.limit ?? 20 },
    ...(signal ? { signal } : {}),
  });
}

/** One sandbox. */
export function getSandbox(id: string): Promise<Sandbox> {
  return api("GET", `/v1/sandboxes/${encodeURIComponent(id)}`);
}

/** What the Create dialog sends. */
export interface CreateSandboxInput {
  template?: string;
  vcpus?: number;
  memory_mb?: number;
  disk_size_mb?: number;
  timeout_sec?: number;
  envs?: Record<string, string>;
  metadata?: Record<string, string>;
}

/** Creates (and starts) a sandbox. */
export function createSandbox(input: CreateSandboxInput): Promise<Sandbox> {
  return api("POST", "/v1/sandboxes", { body: input });
}

/** Pauses a running sandbox (memory and disk kept, no RAM held). */
export function pauseSandbox(id: string): Promise<Sandbox> {
  return api("POST", `/v1/sandboxes/${encodeURIComponent(id)}/pause`);
}

/** Forks a running sandbox: `count` new ones that continue from its memory, processes and files. */
export function forkSandbox(id: string, count = 1): Promise<{ sandboxes: Sandbox[] }> {
  return api("POST", `/v1/sandboxes/${encodeURIComponent(id)}/fork`, { body: { count } });
}

/** Resumes a paused sandbox. */
export function resumeSandbox(id: string): Promise<Sandbox> {
  return api("POST", `/v1/sandboxes/${encodeURIComponent(id)}/resume`);
}

/** Destroys a sandbox and its files. */
export function deleteSandbox(id: string): Promise<void> {
  return api("DELETE", `/v1/sandboxes/${encodeURIComponent(id)}`);
}

/** A template (image or snapshot) a sandbox can start from. */
export interface Template {
  id: string;
  name: string;
  type: "snapshot" | "image";
  team_id: string;
  platform: boolean;
  vcpus: number;
  memory_mb: number;
  size_bytes: number;
  host_id: string | null;
  created_at: string;
}

/** The team's templates and the platform's. */
export async function listTemplates(): Promise<Template[]> {
  return (await api<{ templates: Template[] }>("GET", "/v1/snapshots")).templates;
}

/** Captures a running sandbox as a snapshot template (it keeps running). */
export function snapshotSandbox(sandboxId: string, name?: string): Promise<Template> {
  return api("POST", "/v1/snapshots", { body: { sandbox_id: sandboxId, ...(name ? { name } : {}) } });
}

/** A directory entry of the guest file system. */
export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink" | "unknown";
  size: number;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modified_at: string | null;
  symlink_target?: string;
}

const files = (id: string, op: string) => `/v1/sandboxes/${encodeURIComponent(id)}/files/${op}`;

/** Lists a directory. */
export async function listFiles(id: string, path: string): Promise<FileEntry[]> {
  return (await api<{ entries: FileEntry[] }>("POST", files(id, "list"), { body: { path } })).entries;
}

/** Creates a directory (and its parents). */
export function makeDir(id: string, path: string): Promise<FileEntry> {
  return api("POST", files(id, "mkdir"), { body: { path } });
}

/** Removes a file or a directory tree. */
export function removePath(id: string, path: string): Promise<void> {
  return api("POST", files(id, "remove"), { body: { path } });
}

/** A file's bytes. */
export async function readFile(id: string, path: string): Promise<Blob> {
  const res = await api<Response>("POST", files(id, "read"), { body: { path }, raw: true });
  return res.blob();
}

/**
 * Uploads a file with progress (XHR: fetch has no upload progress). The body streams straight to
 * the guest (`files/stream/write`), so large files are never buffered by the control plane.
 */
export function uploadFile(
  id: string,
  path: string,
  file: Blob,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<FileEntry> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", buildUrl(files(id, "stream/write"), { path }));
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = async () => {
      const res = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve((await res.json()) as FileEntry);
      } else {
        reject(await errorFromResponse(res));
      }
    };
    xhr.onerror = () => reject(new Error("The upload failed: the connection was lost."));
    xhr.onabort = () => reject(new DOMException("Upload cancelled", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** A process envd tracks (background command or terminal). */
export interface Process {
  pid: number;
  tag: string | null;
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd: string;
  pty: boolean;
}

/** Processes of a running sandbox. */
export async function listProcesses(id: string): Promise<Process[]> {
  return (await api<{ processes: Process[] }>("GET", `/v1/sandboxes/${encodeURIComponent(id)}/processes`))
    .processes;
}

/** Kills a process by pid or tag. */
export function killProcess(id: string, process: string | number, signal: "SIGKILL" | "SIGTERM" = "SIGKILL") {
  return api<void>(
    "DELETE",
    `/v1/sandboxes/${encodeURIComponent(id)}/processes/${encodeURIComponent(String(process))}`,
    { query: { signal } },
  );
}

/** Ranges of the per-sandbox metrics. */
export const metricsRanges = ["5m", "10m", "1h", "2h", "6h", "12h", "24h"] as const;
/** One of {@link metricsRanges}. */
export type MetricsRange = (typeof metricsRanges)[number];

/** One metrics sample. */
export interface MetricsPoint {
  timestamp: string;
  cpu_percent: number;
  memory_rss_bytes: number;
  disk_bytes: number;
}

/** CPU, memory and disk samples of a sandbox over a range. */
export function getMetrics(
  id: string,
  range: MetricsRange,
): Promise<{ range: MetricsRange; points: MetricsPoint[] }> {
  return api("GET", `/v1/sandboxes/${encodeURIComponent(id)}/metrics`, { query: { range } });
}

/** A single-use, 30-second WebSocket ticket bound to the user, team and sandbox. */
export function createWsTicket(sandboxId: string): Promise<{ ticket: string; expires_at: string }> {
  return api("POST", "/v1/ws-tickets", { body: { sandbox_id: sandboxId } });
}

/** A single-use, 30-second ticket that opens one port of a sandbox in a browser tab (signed-in users). */
export function createPortTicket(
  sandboxId: string,
  port: number,
): Promise<{ ticket: string; param: string; expires_at: string }> {
  return api("POST", "/v1/port-tickets", { body: { sandbox_id: sandboxId, port } });
}

/** Downloads a response body as a file in the browser. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
