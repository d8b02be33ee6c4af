"""One pulumi.ComponentResource per tier; `__main__.py` composes them."""
