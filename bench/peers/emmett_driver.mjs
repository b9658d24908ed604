// emmett_driver.mjs: the `postgres` system of annals' comparison benchmark.
// Runs ONE measurement on Emmett's PostgreSQL event store
// (@event-driven-io/emmett-postgresql) and prints one JSON line, with the
// same flags and output as build-bench/bench/annals_bench_driver (see
// bench/driver/driver_main.cc); --dir is a postgres:// connection string.
//
//   node emmett_driver.mjs --dir postgres://postgres@127.0.0.1:PORT/db --op append \
//        --threads 8 --batch 1 --seconds 5
//
// Appenders are concurrent async loops (Node is single-threaded; the
// concurrency is in PostgreSQL, one pooled connection per appender). Each
// append passes the exact expected stream version. Durability is the
// server's: synchronous_commit=on (set by the runner); --durable 0 is
// ignored because Emmett has no per-append durability switch (the runner
// starts the server with synchronous_commit=on for every workload, which is
// PostgreSQL's default). Payloads are the same 200 random bytes, base64 in
// the JSON event data (Emmett stores events as JSONB); Emmett assigns each
// event its own UUID.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { getPostgreSQLEventStore, readMessagesBatch } from '@event-driven-io/emmett-postgresql';
import { dumbo } from '@event-driven-io/dumbo';

const flags = {};
for (let i = 2; i < process.argv.length; i += 2) {
  flags[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const num = (k, d) => (flags[k] === undefined ? d : Number(flags[k]));
const url = flags.dir;
const op = flags.op;
if (!url || !op) {
  console.error('emmett_driver: --dir <postgres url> and --op are required');
  process.exit(1);
}

const threads = num('threads', 1);
const pool = new pg.Pool({ connectionString: url, max: Math.max(threads, 2) });
const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
const payloadPool = randomBytes(1 << 20);
const payloadBytes = num('payload-bytes', 200);
const pickPayload = () => {
  const off = Math.floor(Math.random() * (payloadPool.length - payloadBytes));
  return payloadPool.subarray(off, off + payloadBytes).toString('base64');
};

async function runAppender(t, spec, deadline, quota, out) {
  const open = [];
  let nextStream = 0;
  for (let i = 0; i < spec.interleave; i++) open.push({ name: `t${t}-s${nextStream++}`, version: 0 });
  let done = 0;
  let segStart = performance.now();
  let segEvents = 0;
  for (let k = 0; ; k++) {
    if (spec.seconds > 0 ? performance.now() >= deadline : done >= quota) break;
    const o = open[k % open.length];
    if (o.version >= spec.streamEvents) {
      o.name = `t${t}-s${nextStream++}`;
      o.version = 0;
    }
    const n = spec.seconds > 0 ? spec.batch : Math.min(spec.batch, quota - done);
    const events = [];
    for (let i = 0; i < n; i++) events.push({ type: 'BenchEvent', data: { payload: pickPayload() } });
    await store.appendToStream(o.name, events, { expectedStreamVersion: BigInt(o.version) });
    o.version += n;
    done += n;
    if (spec.segment > 0 && done - segEvents >= spec.segment) {
      const now = performance.now();
      out.segments.push(((done - segEvents) * 1000) / (now - segStart));
      segStart = now;
      segEvents = done;
    }
  }
  out.events = done;
}

async function main() {
  // Create the schema before the clock starts.
  await store.schema.migrate();
  let events = 0;
  let seconds = 0;
  let segments = [];
  let partial = false;
  if (op === 'append') {
    const spec = {
      batch: num('batch', 1),
      seconds: num('seconds', 0),
      events: num('events', 0),
      interleave: num('interleave', 1),
      streamEvents: num('stream-events', 1000),
      segment: num('segment', 0),
    };
    const start = performance.now();
    const deadline = start + spec.seconds * 1000;
    const outs = [];
    const runs = [];
    for (let t = 0; t < threads; t++) {
      const quota = Math.floor(spec.events / threads) + (t < spec.events % threads ? 1 : 0);
      const out = { events: 0, segments: [] };
      outs.push(out);
      runs.push(runAppender(t, spec, deadline, quota, out));
    }
    await Promise.all(runs);
    seconds = (performance.now() - start) / 1000;
    for (const o of outs) events += o.events;
    segments = outs[0].segments;
  } else if (op === 'read-stream') {
    const repeat = num('repeat', 1);
    const stream = flags.stream ?? 't0-s0';
    const start = performance.now();
    for (let i = 0; i < repeat; i++) {
      const r = await store.readStream(stream);
      let bytes = 0;
      for (const e of r.events) bytes += e.data.payload.length;
      if (bytes === 0) throw new Error(`stream ${stream} is empty`);
      events += r.events.length;
    }
    seconds = (performance.now() - start) / 1000;
  } else if (op === 'scan-all') {
    const repeat = num('repeat', 1);
    // --max-seconds: stop after this long and report the rate so far
    // ("partial": true). Emmett's batch read costs about the same for every
    // batch (it sorts the table each time), so the rate of the first part
    // is the rate of the whole scan.
    const maxMs = num('max-seconds', 0) * 1000;
    const executor = dumbo({ connectionString: url, pool });
    const start = performance.now();
    for (let i = 0; i < repeat && !partial; i++) {
      let after = 0n;
      for (;;) {
        if (maxMs > 0 && performance.now() - start > maxMs) {
          partial = true;
          break;
        }
        const batch = await readMessagesBatch(executor.execute, { after, batchSize: 1000 });
        for (const m of batch.messages) {
          if (m.metadata.globalPosition <= after) throw new Error('out of order');
          after = m.metadata.globalPosition;
        }
        events += batch.messages.length;
        if (!batch.areMessagesLeft) break;
      }
    }
    seconds = (performance.now() - start) / 1000;
  } else {
    throw new Error('--op must be append, read-stream or scan-all');
  }
  await store.close();
  await pool.end().catch(() => {});
  const rssMb = process.resourceUsage().maxRSS / 1024;
  const line = { events, seconds, events_per_s: seconds > 0 ? events / seconds : 0, peak_rss_mb: rssMb };
  if (segments.length > 0) line.segments = segments;
  if (partial) line.partial = true;
  console.log(JSON.stringify(line));
}

main().catch((e) => {
  console.error(`emmett_driver: ${e.stack ?? e}`);
  process.exit(1);
});
