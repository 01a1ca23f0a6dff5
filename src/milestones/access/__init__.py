"""Who may read and change what: access keys and their scopes, and signed links to mentors' pages."""
