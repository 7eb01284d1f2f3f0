import { createInterface } from "node:readline/promises";
import { ExitCode } from "../exit-codes.ts";
import { CliError } from "./errors.ts";

/** Asks one question on the terminal and returns the trimmed answer (or `fallback` for an empty one). */
export async function ask(question: string, fallback = ""): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(question)).trim();
    return answer || fallback;
  } finally {
    rl.close();
  }
}

/**
 * Reads a secret from the terminal without echoing it (raw mode, so the key never reaches the
 * screen or the scrollback). Backspace edits; Ctrl-C aborts with exit code 130; Enter ends.
 */
export async function askSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  let value = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            return resolve(value.trim());
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            return reject(new CliError("aborted", ExitCode.interrupted));
          }
          if (ch === "\u0004" && value === "") {
            stdin.off("data", onData);
            return resolve("");
          }
          if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
          else if (ch >= " ") value += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}

/** All of stdin as text (for `echo $KEY | wrenn login`). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
