"""Detector plugins: the contract, the plugin manager and the built-in detectors."""
