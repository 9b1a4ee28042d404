"""Celery app of the interop bench: one no-op task that counts its runs in
Redis (so the bench sees when all are done), as the Nest side's does."""
import os

from celery import Celery

URL = os.environ['CELERY_URL']
app = Celery('bench', broker=URL, backend=URL)
app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task(name='bench.noop')
def noop(counter, payload):
    app.backend.client.incr(counter)
    return payload
