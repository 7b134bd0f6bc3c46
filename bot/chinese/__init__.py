"""Chinese text: normalisation (traditional, Cantonese, synonyms), words and tokens, place names, numerals.

Shared by question understanding, retrieval, extraction and the calculators; nothing here knows
about the index or a channel.
"""
