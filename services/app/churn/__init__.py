"""Churn prediction reference app: REST API, Celery worker and ML service.

Kept import-light on purpose: gunicorn config modules import this package before
prometheus_client may be imported (multiprocess mode must be set up first).
"""

__version__ = "0.1.0"
