import { createServer } from "node:http";

/**
 * envd entry point (placeholder until the envd issue lands): answers GET /health
 * with 204 on port 49983 so the image pipeline can prove the guest boots.
 */
const port = Number(process.env.ENVD_PORT ?? 49983);
createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404, { "content-type": "application/json" }).end('{"code":"not_found","message":"no such route"}');
}).listen(port, "0.0.0.0");
