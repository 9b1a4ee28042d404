"""A long-lived Python Celery client driven by the interop tests: one JSON
command per stdin line, one JSON answer per stdout line (same "req")."""
import json
import sys
import threading
import time
from datetime import datetime, timezone

from celery import chain, chord, group, signature
from interop_app import app

lock = threading.Lock()


def answer(req, **fields):
    with lock:
        sys.stdout.write(json.dumps({'req': req, **fields}) + '\n')
        sys.stdout.flush()


def sig(s):
    extra = {'task_id': s['id']} if 'id' in s else {}
    return signature(s['name'], args=tuple(s.get('args', [])), kwargs=s.get('kwargs', {}), app=app,
                     queue=s.get('queue'), immutable=s.get('immutable', False), **extra)


def handle(cmd):
    req = cmd['req']
    try:
        op = cmd['op']
        opts = {}
        if 'queue' in cmd:
            opts['queue'] = cmd['queue']
        if 'countdown' in cmd:
            opts['countdown'] = cmd['countdown']
        if 'expires' in cmd:
            opts['expires'] = datetime.fromtimestamp(cmd['expires'] / 1000, tz=timezone.utc)
        if cmd.get('ignore_result'):
            opts['ignore_result'] = True
        if 'time_limit' in cmd:
            opts['time_limit'] = cmd['time_limit']
        if 'link' in cmd:
            opts['link'] = sig(cmd['link'])
        if 'eta' in cmd:
            opts['eta'] = datetime.fromtimestamp(cmd['eta'] / 1000, tz=timezone.utc)
        if op == 'watch':
            # polls a task's state until it is cmd['state'] (as a Python caller would), then gives its info
            r = app.AsyncResult(cmd['id'])
            deadline = time.time() + cmd.get('timeout', 20)
            while r.state != cmd['state']:
                if time.time() > deadline:
                    raise TimeoutError('state stayed %s' % r.state)
                time.sleep(0.02)
            return answer(req, event='done', ok=True, value=r.info)
        if op == 'send':
            r = app.send_task(cmd['name'], args=cmd.get('args', []), kwargs=cmd.get('kwargs', {}), **opts)
        elif op == 'chain':
            r = chain(*[sig(s) for s in cmd['steps']]).apply_async()
        elif op == 'group':
            r = group([sig(s) for s in cmd['members']]).apply_async()
        elif op == 'chord':
            r = chord([sig(s) for s in cmd['header']], sig(cmd['body'])).apply_async()
        else:
            raise ValueError('unknown op %r' % op)
        ids, todo = [], [r]
        while todo:
            node = todo.pop()
            ids.append(node.id)
            todo.extend(getattr(node, 'results', None) or [])
            if node.parent is not None:
                todo.append(node.parent)
        answer(req, event='sent', id=r.id, ids=ids)
        if cmd.get('noget'):
            return answer(req, event='done', ok=True, value=None)
        value = r.get(timeout=cmd.get('timeout', 20), propagate=True)
        answer(req, event='done', ok=True, value=value)
    except Exception as exc:  # the test asserts on what Python callers see
        answer(req, event='done', ok=False, type=type(exc).__name__, module=type(exc).__module__, message=str(exc))


def main():
    # connect now, so the first command does not pay for it
    app.connection_for_write().ensure_connection(max_retries=3)
    print('READY', flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line:
            threading.Thread(target=handle, args=(json.loads(line),), daemon=True).start()


if __name__ == '__main__':
    main()
