"""The Python side of the sample's Celery interop (TASKQUEUE_PROTOCOL=celery).

    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 celery -A celery_app worker -Q py --pool=threads
    python3 -c "from celery_app import app; print(app.send_task('sample.multiply', (4, 5), queue='default').get())"
"""
import os

from celery import Celery

URL = os.environ.get('CELERY_BROKER_URL', 'redis://127.0.0.1:6379/0')
app = Celery('sample', broker=URL, backend=URL)


@app.task(name='app.add')
def add(x, y):
    return x + y
