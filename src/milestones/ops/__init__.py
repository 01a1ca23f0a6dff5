"""Running the service in production: its logs and its metrics."""
