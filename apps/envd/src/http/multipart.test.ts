import { describe, expect, it } from "vitest";
import { multipartBoundary, type PartHeaders, parseMultipart, partFilename, partName } from "./multipart.ts";

async function* chunked(body: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
}

async function parse(body: Buffer, boundary: string, chunkSize: number) {
  const parts: Array<{ headers: PartHeaders; data: Buffer }> = [];
  await parseMultipart(chunked(body, chunkSize), boundary, async (headers) => {
    const part = { headers, data: Buffer.alloc(0) };
    parts.push(part);
    return {
      async write(chunk) {
        part.data = Buffer.concat([part.data, chunk]);
      },
      async end() {},
    };
  });
  return parts;
}

describe("parseMultipart", () => {
  const boundary = "----wrennBoundary42";
  const binary = Buffer.from([0, 13, 10, 45, 45, 255, 13, 10, 13, 10]);
  const body = Buffer.concat([
    Buffer.from(
      `preamble\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a/b.txt"\r\n\r\n`,
    ),
    Buffer.from("hello\r\n--not-the-boundary"),
    Buffer.from(
      `\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    binary,
    Buffer.from(`\r\n--${boundary}--\r\nepilogue`),
  ]);

  it.each([1, 2, 7, 64, 100_000])("splits parts correctly with %i-byte chunks", async (size) => {
    const parts = await parse(body, boundary, size);
    expect(parts).toHaveLength(2);
    expect(partFilename(parts[0]?.headers ?? {})).toBe("a/b.txt");
    expect(partName(parts[0]?.headers ?? {})).toBe("file");
    expect(parts[0]?.data.toString()).toBe("hello\r\n--not-the-boundary");
    expect(parts[1]?.headers["content-type"]).toBe("application/octet-stream");
    expect(parts[1]?.data.equals(binary)).toBe(true);
  });

  it("rejects a body that ends before the closing boundary", async () => {
    await expect(parse(body.subarray(0, body.length - 20), boundary, 16)).rejects.toThrow(/ended early/);
  });

  it("reads the boundary from the content type", () => {
    expect(multipartBoundary('multipart/form-data; boundary="abc def"')).toBe("abc def");
    expect(multipartBoundary("multipart/form-data; boundary=xyz; charset=utf-8")).toBe("xyz");
    expect(() => multipartBoundary("multipart/form-data")).toThrow(/boundary/);
  });

  it("decodes RFC 5987 filenames", () => {
    expect(
      partFilename({ "content-disposition": "form-data; name=file; filename*=UTF-8''caf%C3%A9.txt" }),
    ).toBe("café.txt");
  });
});
