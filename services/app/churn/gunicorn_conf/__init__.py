"""gunicorn configuration modules: `gunicorn -c python:churn.gunicorn_conf.api` / `.ml`.

They import nothing heavy: PROMETHEUS_MULTIPROC_DIR must be in the environment
before prometheus_client is first imported (by the app, in each worker).
"""
