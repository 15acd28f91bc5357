"""gunicorn settings of the ml service: `gunicorn -c python:churn.gunicorn_conf.ml`."""

from churn.gunicorn_conf import common

# gunicorn reads its settings from this module's globals.
globals().update(common.settings("ml", 5000, "churn.ml.wsgi:app"))
