/**
 * The little of the DNS wire format (RFC 1035) the egress filter needs: the question of a
 * query, the IPv4 addresses of an answer, and a SERVFAIL for a query it cannot answer.
 */

/** Record type A (IPv4 address). */
export const TYPE_A = 1;

/** The first question of a message. */
export interface DnsQuestion {
  /** Lower-case, without the trailing dot. */
  name: string;
  type: number;
}

/** An IPv4 address from an answer, with its time to live. */
export interface DnsAddress {
  ip: string;
  ttlSec: number;
}

const HEADER_BYTES = 12;

/** Reads a (possibly compressed) name at `offset`; answers it and the offset after it in place. */
function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let at = offset;
  let next = -1;
  // Pointers may only point backwards; a bound on the jumps stops loops in malformed messages.
  for (let jumps = 0; jumps < 64; jumps++) {
    const len = msg.readUInt8(at);
    if (len === 0) return { name: labels.join(".").toLowerCase(), next: next < 0 ? at + 1 : next };
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = at + 2;
      at = msg.readUInt16BE(at) & 0x3fff;
      continue;
    }
    if (at + 1 + len > msg.length) throw new RangeError("label past the end");
    labels.push(msg.toString("latin1", at + 1, at + 1 + len));
    at += 1 + len;
  }
  throw new RangeError("too many name pointers");
}

/** The first question of `msg`, or undefined when it has none or is malformed. */
export function parseQuestion(msg: Buffer): DnsQuestion | undefined {
  try {
    if (msg.length < HEADER_BYTES || msg.readUInt16BE(4) === 0) return undefined;
    const { name, next } = readName(msg, HEADER_BYTES);
    return { name, type: msg.readUInt16BE(next) };
  } catch {
    return undefined;
  }
}

/** The A records in the answer section of `msg` (CNAME chains included); [] when malformed. */
export function parseAddresses(msg: Buffer): DnsAddress[] {
  try {
    const questions = msg.readUInt16BE(4);
    const answers = msg.readUInt16BE(6);
    let at = HEADER_BYTES;
    for (let i = 0; i < questions; i++) at = readName(msg, at).next + 4;
    const found: DnsAddress[] = [];
    for (let i = 0; i < answers; i++) {
      at = readName(msg, at).next;
      const type = msg.readUInt16BE(at);
      const ttlSec = msg.readUInt32BE(at + 4);
      const length = msg.readUInt16BE(at + 8);
      const data = at + 10;
      if (data + length > msg.length) break;
      if (type === TYPE_A && length === 4)
        found.push({ ip: [...msg.subarray(data, data + 4)].join("."), ttlSec });
      at = data + length;
    }
    return found;
  } catch {
    return [];
  }
}

/** A SERVFAIL answer to `query` (same id and question), or undefined when it is too short. */
export function servfail(query: Buffer): Buffer | undefined {
  if (query.length < HEADER_BYTES) return undefined;
  const reply = Buffer.from(query);
  // QR=1, opcode and RD kept, RA=1, RCODE=2; no answer, authority or additional records.
  reply.writeUInt8((query.readUInt8(2) & 0x79) | 0x80, 2);
  reply.writeUInt8(0x82, 3);
  reply.writeUInt16BE(0, 6);
  reply.writeUInt16BE(0, 8);
  reply.writeUInt16BE(0, 10);
  const question = parseQuestion(query);
  if (!question) return reply.subarray(0, HEADER_BYTES);
  const end = readName(query, HEADER_BYTES).next + 4;
  return reply.subarray(0, end);
}

/** Builds a query (tests) or, with `answers`, an answer for `name` holding A records. */
export function buildMessage(
  id: number,
  name: string,
  options: { answers?: DnsAddress[]; cname?: string; response?: boolean } = {},
): Buffer {
  const encodeName = (n: string) =>
    Buffer.concat([
      ...n
        .split(".")
        .filter(Boolean)
        .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, "latin1")])),
      Buffer.from([0]),
    ]);
  const answers = options.answers ?? [];
  const records: Buffer[] = [];
  let owner = encodeName(name);
  if (options.cname) {
    const target = encodeName(options.cname);
    const head = Buffer.alloc(10);
    head.writeUInt16BE(5, 0);
    head.writeUInt16BE(1, 2);
    head.writeUInt32BE(60, 4);
    head.writeUInt16BE(target.length, 8);
    records.push(owner, head, target);
    owner = target;
  }
  for (const a of answers) {
    const head = Buffer.alloc(14);
    head.writeUInt16BE(TYPE_A, 0);
    head.writeUInt16BE(1, 2);
    head.writeUInt32BE(a.ttlSec, 4);
    head.writeUInt16BE(4, 8);
    a.ip.split(".").forEach((part, i) => {
      head.writeUInt8(Number(part), 10 + i);
    });
    records.push(owner, head);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(options.response || answers.length ? 0x8180 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length + (options.cname ? 1 : 0), 6);
  const question = Buffer.concat([encodeName(name), Buffer.from([0, TYPE_A, 0, 1])]);
  return Buffer.concat([header, question, ...records]);
}
