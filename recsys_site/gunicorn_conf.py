"""gunicorn settings, shared by the Procfile and the benchmarks (`gunicorn -c recsys_site/gunicorn_conf.py`).

Threaded workers keep client connections alive: with the default sync workers every request pays a new
TCP connection, which on this service costs more than answering a cached recommendation. Two threads
per worker also let one request use the CPU while another waits on Redis or PostgreSQL.

A kept-alive connection stays with the worker that accepted it, so a client holding a few connections open
(an API client's pool, a load balancer) can end up with all of them on one worker while the other idles.
Like nginx's `keepalive_requests`, every connection is therefore closed (with `Connection: close`) after
`WEB_KEEPALIVE_REQUESTS` requests (100 by default); the client reconnects, and a new connection tends to go
to the least busy worker, whose main thread is the first to accept it.

Once a worker has loaded the application it freezes what it holds (Django, the modules: some 200,000 objects) out
of the cyclic garbage collector, whose full passes over them otherwise pause requests for 40-140 ms; the serving
caches do the same after loading a large shop (`recommendations/local_cache.py`).
"""

import gc
import os

bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('WEB_PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "2"))
keepalive = 5
timeout = 60
accesslog = "-"
keepalive_requests = int(os.environ.get("WEB_KEEPALIVE_REQUESTS", "100"))


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)
    if keepalive_requests > 0 and req.req_number % keepalive_requests == 0:
        req.must_close = True  # answered with "Connection: close"; the client opens a new connection


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
