// A plain Node.js MCP client over mutual TLS (node:https, OpenSSL underneath).
// Usage: node node_client.mjs URL CA_FILE CERT_FILE KEY_FILE
// Prints the status line and the JSON-RPC answer to `initialize`; exits 0 on HTTP 200.
import https from "node:https";
import { readFileSync } from "node:fs";

const [url, caFile, certFile, keyFile] = process.argv.slice(2);
const body = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "node-interop", version: "1.0.0" },
  },
});

const req = https.request(url, {
  method: "POST",
  ca: readFileSync(caFile),
  cert: certFile ? readFileSync(certFile) : undefined,
  key: keyFile ? readFileSync(keyFile) : undefined,
  headers: {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "content-length": Buffer.byteLength(body),
  },
}, (res) => {
  const protocol = res.socket.getProtocol?.() ?? "";
  let text = "";
  res.setEncoding("utf8");
  res.on("data", (c) => (text += c));
  res.on("end", () => {
    console.log(`status ${res.statusCode} ${protocol}`);
    console.log(text);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
});
req.on("error", (e) => {
  console.error(`error ${e.code ?? ""} ${e.message}`);
  process.exit(2);
});
req.end(body);
