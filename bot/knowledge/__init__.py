"""The knowledge folder: loading files, chunking them and indexing the chunks."""
