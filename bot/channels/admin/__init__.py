"""The staff console (``python -m bot admin``): documents, ingest, "try it", what residents asked, standards."""
