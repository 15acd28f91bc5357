"""gunicorn settings of the ml service: `gunicorn -c python:churn.gunicorn_conf.ml`."""

from churn.gunicorn_conf import common

_DEFAULT_PORT = 5000
common.ensure_multiprocess_dir("ml", _DEFAULT_PORT)

wsgi_app = "churn.ml.wsgi:app"
bind = common.bind(_DEFAULT_PORT)
workers = common.workers()
timeout = common.timeout()
graceful_timeout = common.graceful_timeout()
loglevel = common.log_level()
accesslog = "-"
errorlog = "-"
# Heartbeat files on tmpfs: a container's overlay filesystem can stall them.
worker_tmp_dir = "/dev/shm"
on_starting = common.on_starting
child_exit = common.child_exit
