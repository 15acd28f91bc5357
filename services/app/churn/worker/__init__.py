"""The Celery worker: `celery -A churn.worker worker`.

Importing this package registers the tasks and the worker's metrics signals.
"""

from churn.worker import metrics as _metrics  # noqa: F401  (connects signal handlers)
from churn.worker.tasks import app, score_customer

__all__ = ["app", "score_customer"]
