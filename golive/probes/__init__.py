"""Probes: the one way golive measures each component, shared by checks, the dashboard and the watch loop."""
