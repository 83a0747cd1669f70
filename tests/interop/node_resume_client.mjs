// Node.js client making 3 requests on 3 new connections with one TLS session
// cache, so connections 2 and 3 resume the TLS session.
// Usage: node node_resume_client.mjs URL CA_FILE CERT_FILE KEY_FILE
// Prints one line per request: "status CODE reused=BOOL".
import https from "node:https";
import { readFileSync } from "node:fs";

const [url, ca, cert, key] = process.argv.slice(2);
const agent = new https.Agent({
  keepAlive: false,
  maxCachedSessions: 10,
  ca: readFileSync(ca),
  cert: readFileSync(cert),
  key: readFileSync(key),
});
const body = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "n", version: "1" },
  },
});
for (let i = 0; i < 3; i++) {
  await new Promise((resolve) => {
    const req = https.request(url, {
      method: "POST",
      agent,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
    }, (res) => {
      const reused = res.socket.isSessionReused();
      res.resume();
      res.on("end", () => {
        console.log(`status ${res.statusCode} reused=${reused}`);
        resolve();
      });
    });
    req.on("error", (e) => {
      console.log(`error ${e.code} ${e.message}`);
      resolve();
    });
    req.end(body);
  });
}
