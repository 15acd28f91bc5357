"""HTTP routes of the API, one blueprint per resource."""
