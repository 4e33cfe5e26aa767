// A webhook receiver for tests/it/webhooks.rs: verifies every delivery with the
// Standard Webhooks reference library (npm `standardwebhooks`), answers 500 to
// the first attempt of each webhook-id and 200 afterwards, and records each
// attempt as a JSON line in the file given as the first argument.
//
//   WEBHOOK_SECRET=whsec_… node webhook_receiver.mjs OUT.jsonl
//
// Prints {"port": N} on its first line once it listens (on 127.0.0.1, port 0).
import { createServer } from "node:http";
import { appendFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const out = process.argv[2];
const wh = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set();

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const id = req.headers["webhook-id"];
    let verified = false;
    let error = null;
    let payload = null;
    try {
      payload = wh.verify(body, req.headers);
      verified = true;
    } catch (e) {
      error = String(e && e.message ? e.message : e);
    }
    const first = !seen.has(id);
    seen.add(id);
    const status = !verified ? 401 : first ? 500 : 200;
    appendFileSync(
      out,
      JSON.stringify({
        id,
        timestamp: req.headers["webhook-timestamp"],
        signature: req.headers["webhook-signature"],
        content_type: req.headers["content-type"],
        verified,
        error,
        status,
        payload,
      }) + "\n",
    );
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(status === 200 ? "ok" : status === 500 ? "try again" : "bad signature");
  });
});

server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
