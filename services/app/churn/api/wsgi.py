"""gunicorn entry point: `gunicorn -c python:churn.gunicorn_conf.api` (or churn.api.wsgi:app)."""

from churn.api import create_app
from churn.config import Config
from churn.error_tracking import init_error_tracking
from churn.logs import configure_logging

_config = Config.from_env()
configure_logging(_config.log_level)
init_error_tracking("api")
app = create_app(_config)
