"""The revisions, oldest first: 0001 is the SQLite layout before migrations existed."""
