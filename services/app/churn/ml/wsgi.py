"""gunicorn entry point: `gunicorn -c python:churn.gunicorn_conf.ml` (or churn.ml.wsgi:app)."""

from churn.config import Config
from churn.error_tracking import init_error_tracking
from churn.logs import configure_logging
from churn.ml.app import create_app

_config = Config.from_env()
configure_logging(_config.log_level)
init_error_tracking("ml")
app = create_app(_config)
