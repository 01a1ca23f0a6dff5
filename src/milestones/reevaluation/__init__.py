"""Re-evaluation after a catalog change: every stored mentor decided again under a catalog version, in batches."""
