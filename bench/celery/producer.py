"""Sends N bench.noop tasks one at a time, as a Python Celery client does
(send_task), and prints when it started and finished (epoch ms)."""
import sys
import time

from bench_app import app

queue, n, counter = sys.argv[1], int(sys.argv[2]), sys.argv[3]
app.connection_for_write().ensure_connection(max_retries=3)
print('START %d' % int(time.time() * 1000), flush=True)
for i in range(n):
    app.send_task('bench.noop', args=[counter, {'n': i}], queue=queue)
print('SENT %d' % int(time.time() * 1000), flush=True)
