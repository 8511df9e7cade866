"""Destination connectors and the small interface they implement."""
