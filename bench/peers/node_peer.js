// Drives the Node.js peers of bench/run with the workload of sked_bench.c:
//   node node_peer.js SYSTEM queue   URL N BATCH WORKERS    enqueue N no-op jobs in batches, then drain
//   node node_peer.js SYSTEM latency URL RATE SECONDS WORKERS  steady offered load, enqueue-to-start
// SYSTEM: graphile-worker | pg-boss (URL postgres://...) | bullmq (URL redis://127.0.0.1:PORT).
// Prints one JSON object with the figures.  Every loop is bounded in count and time.
'use strict';
const path = require('path');
const modules = path.join(__dirname, '..', 'node_modules');
const req = (m) => require(path.join(modules, m));

const [system, mode, url, a1, a2, a3] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => Number(process.hrtime.bigint() / 1000n) + epochOffsetUs;
const epochOffsetUs = Date.now() * 1000 - Number(process.hrtime.bigint() / 1000n);
const mono = () => Number(process.hrtime.bigint()) / 1e9;

function pct(sorted, p) {
  if (!sorted.length) return -1;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] / 1000;
}

// ---- adapters: setup(), enqueue(batchOfPayloads), startWorkers(W, handler), stop() ----

function graphile() {
  const { run } = req('graphile-worker');
  const { Pool } = req('pg');
  let pool, runner;
  return {
    durable: 'PostgreSQL fsync=on, synchronous_commit=on; a job is a row, deleted on success',
    async setup() {
      pool = new Pool({ connectionString: url, max: 10 });
      // run once with no tasks to install the schema (migrations) before timing
      const r = await run({ connectionString: url, concurrency: 1, noHandleSignals: true, taskList: {},
        logger: quietLogger() });
      await r.stop();
    },
    async enqueue(payloads) {
      await pool.query(
        'select count(*) from graphile_worker.add_jobs(array(select row(\'noop\', p, null, null, null, null, null, null)::graphile_worker.job_spec from json_array_elements($1::json) p))',
        [JSON.stringify(payloads)]);
    },
    async startWorkers(w, handler) {
      runner = await run({ connectionString: url, concurrency: w, noHandleSignals: true, pollInterval: 2000,
        taskList: { noop: async (payload) => handler(payload) }, logger: quietLogger() });
    },
    async stop() {
      if (runner) await runner.stop();
      await pool.end();
    },
  };
}

function pgboss() {
  const PgBoss = req('pg-boss');
  let boss;
  return {
    durable: 'PostgreSQL fsync=on, synchronous_commit=on; a job is a row, state set to completed on success',
    async setup() {
      boss = new PgBoss({ connectionString: url, max: 12, supervise: false, schedule: false });
      boss.on('error', (e) => console.error('pg-boss:', e.message));
      await boss.start();
      await boss.createQueue('noop');
    },
    async enqueue(payloads) {
      await boss.insert(payloads.map((p) => ({ name: 'noop', data: p })));
    },
    async startWorkers(w, handler) {
      // pg-boss 10: one work() call is one polling worker that fetches up to batchSize jobs,
      // waits for the handler, completes them, and polls again after pollingIntervalSeconds
      // (at least 0.5 s).  W workers, each taking batches of PGBOSS_BATCH (default 100).
      const bs = Number(process.env.PGBOSS_BATCH || 100);
      for (let i = 0; i < w; i++)
        await boss.work('noop', { pollingIntervalSeconds: 0.5, batchSize: bs }, async (jobs) => {
          for (const job of jobs) handler(job.data);
        });
    },
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10000 });
    },
  };
}

function bullmq() {
  const { Queue, Worker } = req('bullmq');
  const u = new URL(url);
  const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
  let queue, worker;
  return {
    durable: 'Redis appendonly yes, appendfsync always; a job is a hash, moved to the completed set on success',
    async setup() {
      queue = new Queue('noop', { connection });
      await queue.waitUntilReady();
      await queue.obliterate({ force: true });
    },
    async enqueue(payloads) {
      await queue.addBulk(payloads.map((p) => ({ name: 'noop', data: p })));
    },
    async startWorkers(w, handler) {
      worker = new Worker('noop', async (job) => handler(job.data), { connection, concurrency: w });
      await worker.waitUntilReady();
    },
    async stop() {
      if (worker) await worker.close();
      await queue.close();
    },
  };
}

function quietLogger() {
  const { Logger } = req('graphile-worker');
  return new Logger(() => (level, message) => { if (level === 'error') console.error(message); });
}

const adapters = { 'graphile-worker': graphile, 'pg-boss': pgboss, bullmq };

async function queueBench(ad, n, batch, w) {
  await ad.setup();
  const payloads = Array.from({ length: batch }, () => ({}));
  const t0 = mono();
  for (let done = 0; done < n; done += batch) await ad.enqueue(payloads.slice(0, Math.min(batch, n - done)));
  const t1 = mono();
  let count = 0;
  let finish;
  const all = new Promise((r) => { finish = r; });
  await ad.startWorkers(w, () => { if (++count === n) finish(); });
  await Promise.race([all, sleep(600000)]);
  const t2 = mono();
  await ad.stop();
  return { n, batch, workers: w, completed: count, enqueue_s: +(t1 - t0).toFixed(3),
    enqueue_per_s: Math.round(n / (t1 - t0)), drain_s: +(t2 - t1).toFixed(3), jobs_per_s: Math.round(count / (t2 - t1)) };
}

async function latencyBench(ad, rate, seconds, w) {
  await ad.setup();
  const n = rate * seconds;
  const lat = [];
  let finish;
  const all = new Promise((r) => { finish = r; });
  await ad.startWorkers(w, (p) => { lat.push(nowUs() - p.t); if (lat.length === n) finish(); });
  const period = 1000 / rate;
  const t0 = Date.now();
  // open loop: one job per tick, not awaiting the previous enqueue (as independent clients would)
  const pending = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + i * period;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    pending.push(ad.enqueue([{ t: nowUs() }]));
  }
  await Promise.all(pending);
  const achieved = n / ((Date.now() - t0) / 1000);
  await Promise.race([all, sleep(60000)]);
  await ad.stop();
  lat.sort((x, y) => x - y);
  return { offered_per_s: rate, achieved_offered_per_s: Math.round(achieved), started: lat.length, workers: w,
    start_latency_p50_ms: pct(lat, 50), start_latency_p99_ms: pct(lat, 99),
    start_latency_max_ms: lat.length ? lat[lat.length - 1] / 1000 : -1 };
}

(async () => {
  const ad = adapters[system] && adapters[system]();
  if (!ad) throw new Error(`unknown system ${system}`);
  const out = mode === 'queue'
    ? await queueBench(ad, +a1, +a2, +a3)
    : await latencyBench(ad, +a1, +a2, +a3);
  out.persists = ad.durable;
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.error(`${system}: ${e.stack || e}`); process.exit(1); });
