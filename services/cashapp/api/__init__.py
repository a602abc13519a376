"""REST API of the cash-application service (FastAPI); ``create_app`` builds it."""
