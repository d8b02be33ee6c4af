"""The embedded local system: moto on loopback, the real handlers, the stream pump, the dashboard."""
