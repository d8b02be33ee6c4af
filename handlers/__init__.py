"""Lambda entry points and the plain functions they call (no pulumi imports here)."""
