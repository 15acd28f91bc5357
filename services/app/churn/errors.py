"""Exceptions shared by the API, the worker and the CLI."""


class ConfigError(Exception):
    """A required setting is missing or unreadable; the message names it."""


class CustomerNotFoundError(Exception):
    """The referenced customer does not exist."""

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"customer {customer_id} not found")
        self.customer_id = customer_id


class DuplicateExternalIdError(Exception):
    """Another customer already has this external_id."""


class StoreUnavailableError(Exception):
    """The database could not be reached (or timed out)."""
