"""Celery app for the interop tests: tasks a Nest app sends to, and the
client side of Python -> Nest calls. The broker and result backend URL comes
from CELERY_URL (a Redis DB of the test's own)."""
import os
import time

from celery import Celery

URL = os.environ['CELERY_URL']
app = Celery('interop', broker=URL, backend=URL)
app.conf.update(
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_acks_late=False,
    result_expires=600,
)


@app.task(name='app.add')
def add(x, y):
    return x + y


@app.task(name='app.mul')
def mul(x, y):
    return x * y


@app.task(name='app.tsum')
def tsum(nums):
    return sum(nums)


@app.task(name='app.fail')
def fail(msg='boom'):
    raise ValueError(msg)


@app.task(name='app.now')
def now(*_):
    """When it ran, in epoch ms (to check a countdown was not run early)."""
    return int(time.time() * 1000)
