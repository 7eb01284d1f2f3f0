import { errors } from "@wrenn/common";

/** The headers of one multipart part, lower-cased. */
export type PartHeaders = Record<string, string>;

/** Receives a part's bytes; `write` resolves when the sink can take more (backpressure). */
export interface PartSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

const MAX_HEADER_BYTES = 16 * 1024;
const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

/** The boundary parameter of a `multipart/form-data` content type. */
export function multipartBoundary(contentType: string): string {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary || boundary.length > 200) throw errors.invalidArgument("multipart boundary missing");
  return boundary;
}

/**
 * Streams a `multipart/form-data` body part by part without holding a whole
 * part in memory: each part's bytes go to the sink `openPart` returns (or are
 * skipped when it returns undefined) as they arrive.
 */
export async function parseMultipart(
  body: AsyncIterable<Buffer>,
  boundary: string,
  openPart: (headers: PartHeaders) => Promise<PartSink | undefined>,
): Promise<void> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // A leading CRLF lets the first boundary match the same delimiter as the others.
  let buffer: Buffer = Buffer.from(CRLF);
  type State = "preamble" | "afterDelimiter" | "headers" | "body" | "done";
  let state = "preamble" as State;
  let sink: PartSink | undefined;

  const step = async (): Promise<boolean> => {
    switch (state) {
      case "preamble": {
        const at = buffer.indexOf(delimiter);
        if (at < 0) {
          buffer = buffer.subarray(Math.max(0, buffer.length - delimiter.length));
          return false;
        }
        buffer = buffer.subarray(at + delimiter.length);
        state = "afterDelimiter";
        return true;
      }
      case "afterDelimiter": {
        if (buffer.length < 2) return false;
        if (buffer[0] === 0x2d && buffer[1] === 0x2d) {
          state = "done";
          return false;
        }
        const lineEnd = buffer.indexOf(CRLF);
        if (lineEnd < 0) return false;
        buffer = buffer.subarray(lineEnd + 2);
        state = "headers";
        return true;
      }
      case "headers": {
        if (buffer.length < 2) return false;
        // A part without headers starts right away with the blank line.
        if (buffer[0] === 0x0d && buffer[1] === 0x0a) {
          buffer = buffer.subarray(2);
          sink = await openPart({});
          state = "body";
          return true;
        }
        const at = buffer.indexOf(HEADER_END);
        if (at < 0) {
          if (buffer.length > MAX_HEADER_BYTES)
            throw errors.invalidArgument("multipart part headers too large");
          return false;
        }
        const headers: PartHeaders = {};
        for (const line of buffer.subarray(0, at).toString("utf8").split("\r\n")) {
          const colon = line.indexOf(":");
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        buffer = buffer.subarray(at + HEADER_END.length);
        sink = await openPart(headers);
        state = "body";
        return true;
      }
      case "body": {
        const at = buffer.indexOf(delimiter);
        if (at < 0) {
          // Keep a tail that could be the start of a delimiter split across chunks.
          const keep = delimiter.length - 1;
          if (buffer.length > keep) {
            const data = buffer.subarray(0, buffer.length - keep);
            buffer = buffer.subarray(buffer.length - keep);
            if (sink) await sink.write(Buffer.from(data));
          }
          return false;
        }
        if (sink && at > 0) await sink.write(Buffer.from(buffer.subarray(0, at)));
        if (sink) await sink.end();
        sink = undefined;
        buffer = buffer.subarray(at + delimiter.length);
        state = "afterDelimiter";
        return true;
      }
      default:
        return false;
    }
  };

  for await (const chunk of body) {
    if (state === "done") continue;
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    while (await step()) {
      // keep consuming what the buffer holds
    }
  }
  if (state !== "done") throw errors.invalidArgument("multipart body ended early");
}

/** The `filename` parameter of a part's Content-Disposition header, if any. */
export function partFilename(headers: PartHeaders): string | undefined {
  const disposition = headers["content-disposition"] ?? "";
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star?.[1]) return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
  const plain = /filename="((?:[^"\\]|\\.)*)"|filename=([^;]+)/i.exec(disposition);
  const value = plain?.[1] ?? plain?.[2]?.trim();
  return value?.replace(/\\(.)/g, "$1");
}

/** The `name` parameter of a part's Content-Disposition header, if any. */
export function partName(headers: PartHeaders): string | undefined {
  const match = /(?:^|;)\s*name="([^"]*)"|(?:^|;)\s*name=([^;]+)/i.exec(headers["content-disposition"] ?? "");
  return match?.[1] ?? match?.[2]?.trim();
}
