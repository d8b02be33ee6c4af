"""The IOps Dashboard detector SDK: everything a plugin imports, in a distribution authors can pin.

It is separate from the dashboard (boto3, pandas, Pulumi...) so that writing and testing a plugin
needs only this and pluggy; the dashboard itself depends on the exact version.
"""

__version__ = "0.1.0"
