import { createHash } from "node:crypto";
import { z } from "zod";
import { text, webhookUrl } from "./fields.ts";
import { type ChannelProvider, plainText } from "./provider.ts";

/**
 * Matrix: client-server API `PUT {homeserver}/_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}`
 * with a bearer access token. The transaction id is derived from the event, so a retried delivery
 * is deduplicated by the homeserver instead of posted twice.
 */
export const matrix: ChannelProvider<{ homeserver_url: string; access_token: string; room_id: string }> = {
  id: "matrix",
  label: "Matrix",
  fields: [
    {
      name: "homeserver_url",
      label: "Homeserver URL",
      secret: false,
      required: true,
      description: "e.g. https://matrix.example.org",
    },
    {
      name: "access_token",
      label: "Access token",
      secret: true,
      required: true,
      description: "Of a bot account that has joined the room",
    },
    { name: "room_id", label: "Room ID", secret: false, required: true, description: "!roomid:example.org" },
  ],
  schema: z.strictObject({
    homeserver_url: webhookUrl,
    access_token: text(1024),
    room_id: text(255).regex(/^![^:\s]+:\S+$/, "must be a room id like !abc:example.org"),
  }),
  request(config, m) {
    const base = config.homeserver_url.replace(/\/+$/, "");
    const txn = `wrenn-${createHash("sha256").update(`${config.room_id}\0${m.event.id}`).digest("hex").slice(0, 32)}`;
    return {
      url: `${base}/_matrix/client/v3/rooms/${encodeURIComponent(config.room_id)}/send/m.room.message/${txn}`,
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${config.access_token}` },
      body: JSON.stringify({ msgtype: "m.notice", body: `${m.title}\n${plainText(m)}` }),
    };
  },
};
