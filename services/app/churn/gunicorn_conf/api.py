"""gunicorn settings of the api service: `gunicorn -c python:churn.gunicorn_conf.api`."""

from churn.gunicorn_conf import common

# gunicorn reads its settings from this module's globals.
globals().update(common.settings("api", 8000, "churn.api.wsgi:app"))
