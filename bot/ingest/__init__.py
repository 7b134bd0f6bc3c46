"""Staff re-ingest: the knowledge folder → loaded files → chunks → vectors in the index (``python ingest.py``)."""
