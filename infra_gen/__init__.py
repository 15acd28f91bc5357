"""infra-gen: one typed model per environment, rendered into every deployment artifact."""

__version__ = "0.1.0"
