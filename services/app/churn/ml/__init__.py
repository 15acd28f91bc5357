"""The ML service: synthetic data, training, and a Flask scoring API.

The Flask app factory lives in churn.ml.app (importing this package stays cheap
for `churn train`); gunicorn serves `churn.ml.wsgi:app`.
"""

from churn.ml.app import create_app

__all__ = ["create_app"]
