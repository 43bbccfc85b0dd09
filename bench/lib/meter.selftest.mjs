// `node bench/lib/meter.selftest.mjs`: checks the meter client against a fake meter that counts its own
// reads and whose queue work lands after the request; prints the cost row it measured.
import { createServer } from "node:http";
import { createMeter } from "./meter.mjs";

let units = {};
const zero = () => ({
  worker_requests: 0,
  queue_batches: 0,
  do_requests: 0,
  do_rows_written: 0,
  queue_messages: 0,
  d1_rows_written: 0,
});
units = zero();
const server = createServer((req, res) => {
  units.worker_requests++; // counts itself, as a real meter might
  if (req.url === "/v1/admin/meter/reset") {
    units = zero();
    res.end("{}");
    return;
  }
  if (req.url === "/v1/admin/meter") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ units, since: "x" }));
    return;
  }
  res.statusCode = 404;
  res.end();
}).listen(8899);
const meter = createMeter("http://127.0.0.1:8899", {}, { quietMs: 600, tailMs: 600, pollMs: 100 });
console.log("init", await meter.init());
const { value, cost } = await meter.measure({ name: "ten batches", unit: "batch", operations: 10 }, async () => {
  units.worker_requests += 10;
  units.do_requests += 10;
  units.do_rows_written += 100;
  units.queue_messages += 20;
  // queue work landing later
  let k = 0;
  const t = setInterval(() => {
    units.queue_batches++;
    units.d1_rows_written += 5;
    if (++k === 4) clearInterval(t);
  }, 200);
  return "ok";
});
console.log(value, JSON.stringify(cost, null, 1));
server.close();
