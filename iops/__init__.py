"""The Lambda-side core beneath the entry points in ``handlers/``: settings, models, logic, data access.

Entry points (``handlers/``) parse, call logic and respond; logic is plain functions; data access is
one module of DynamoDB helpers with one retry policy; models are pydantic. See docs/architecture.md.
"""
