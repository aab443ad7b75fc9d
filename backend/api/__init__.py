"""FastAPI routers, one per resource; thin: validate, call a service, return."""
