"""Celery app of the Celery peer (bench/peers/celery_peer.py); broker and result backend
are the Redis at $BENCH_REDIS_URL.  Durable settings (Celery's documented reliability
options): acks_late (a task is acknowledged after it ran, so a crash redelivers it),
reject_on_worker_lost, results stored in Redis; Redis runs with appendfsync always."""
import os
import time

from celery import Celery

url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("bench", broker=url, backend=url)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_default_queue="bench",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")
def noop(t=None):
    if t is not None:  # latency mode: enqueue-to-start in µs, pushed to a Redis list
        lat = int(time.time() * 1e6) - t
        noop.backend.client.rpush("bench:lat", lat)
    return None
