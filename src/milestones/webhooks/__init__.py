"""Webhooks: endpoints that are told of events, signed deliveries, retries and their log."""
