#!/usr/bin/python3
"""Drives the Celery peer of bench/run (Debian's python3-celery, Redis broker):
  celery_peer.py queue   REDIS_URL N BATCH WORKERS     enqueue N no-op tasks, then drain
  celery_peer.py latency REDIS_URL RATE SECONDS WORKERS steady offered load
Prints one JSON object.  The worker is `celery worker -P prefork -c WORKERS`.
Celery has no bulk enqueue: a batch is BATCH apply_async calls on one producer connection.
The drain is timed from the first task taken (the worker's own start-up is excluded) to
the moment the queue and the unacknowledged set are both empty."""
import json
import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


def main():
    mode, url, a1, a2, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    os.environ["BENCH_REDIS_URL"] = url
    import celery_tasks
    import redis

    r = redis.Redis.from_url(url)
    r.flushdb()
    app = celery_tasks.app

    def start_worker():
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", "-P", "prefork", "-c", str(w),
             "-Q", "bench", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
            cwd=here, env=dict(os.environ, PYTHONPATH=here), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pending():
        return r.llen("bench") + r.hlen("unacked")

    out = {}
    if mode == "queue":
        n, batch = a1, a2
        t0 = time.monotonic()
        with app.producer_or_acquire() as p:
            for done in range(0, n, batch):
                for _ in range(min(batch, n - done)):
                    celery_tasks.noop.apply_async(producer=p)
        t1 = time.monotonic()
        proc = start_worker()
        deadline = time.monotonic() + 600
        while r.llen("bench") >= n and time.monotonic() < deadline:
            time.sleep(0.002)
        ts = time.monotonic()
        while pending() > 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        t2 = time.monotonic()
        done_n = n - pending()
        out = {"n": n, "batch": batch, "workers": w, "completed": done_n, "enqueue_s": round(t1 - t0, 3),
               "enqueue_per_s": round(n / (t1 - t0)), "drain_s": round(t2 - ts, 3),
               "jobs_per_s": round(done_n / (t2 - ts))}
    else:
        rate, seconds = a1, a2
        n = rate * seconds
        proc = start_worker()
        # wait for the worker to be ready: one warm-up task
        celery_tasks.noop.apply_async()
        deadline = time.monotonic() + 60
        while pending() > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        period = 1.0 / rate
        t0 = time.monotonic()
        with app.producer_or_acquire() as p:
            for i in range(n):
                wait = t0 + i * period - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                celery_tasks.noop.apply_async(kwargs={"t": int(time.time() * 1e6)}, producer=p)
        achieved = n / (time.monotonic() - t0)
        deadline = time.monotonic() + 60
        while r.llen("bench:lat") < n and time.monotonic() < deadline:
            time.sleep(0.01)
        lat = sorted(int(x) for x in r.lrange("bench:lat", 0, -1))

        def pct(p):
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1000 if lat else -1
        out = {"offered_per_s": rate, "achieved_offered_per_s": round(achieved), "started": len(lat), "workers": w,
               "start_latency_p50_ms": pct(50), "start_latency_p99_ms": pct(99),
               "start_latency_max_ms": lat[-1] / 1000 if lat else -1}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    out["persists"] = ("Redis appendonly yes, appendfsync always; task message in a list, held in "
                       "'unacked' until done (acks_late); result stored in Redis")
    print(json.dumps(out))


main()
