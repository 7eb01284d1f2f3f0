/**
 * Pieces of Node programs that tests run inside a guest (as `node -e`), written once.
 */

/**
 * Source of a statement that makes the `http.Server` named `server` answer WebSocket upgrades
 * itself and echo each short text frame back as `echo:<text>` (no library in the guest: the
 * handshake and one-frame framing by hand, enough for frames under 126 bytes). Needs `crypto`
 * in scope (`const crypto = require("crypto")`).
 */
export function wsEchoOnUpgrade(server: string): string {
  return String.raw`
${server}.on("upgrade", (req, sock) => {
  const accept = crypto.createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  sock.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
  sock.on("data", (buf) => {
    if ((buf[0] & 15) === 8) { sock.end(); return; }
    const len = buf[1] & 127, mask = buf.subarray(2, 6);
    const text = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]));
    const out = Buffer.concat([Buffer.from("echo:"), text]);
    sock.write(Buffer.concat([Buffer.from([0x81, out.length]), out]));
  });
});
`;
}
