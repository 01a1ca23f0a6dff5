"""Open Badges 3.0 credentials: the documents, their VC-JWT signatures and keys, and the revocation status list."""
