"""gunicorn settings, shared by the Procfile and the benchmarks (`gunicorn -c recsys_site/gunicorn_conf.py`).

Threaded workers keep client connections alive: with the default sync workers every request pays a new
TCP connection, which on this service costs more than answering a cached recommendation. Two threads
per worker also let one request use the CPU while another waits on Redis or PostgreSQL.
"""

import os

bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('WEB_PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "2"))
keepalive = 5
timeout = 60
accesslog = "-"
