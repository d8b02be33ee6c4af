"""The ``iops`` command line."""
