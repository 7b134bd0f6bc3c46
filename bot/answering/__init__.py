"""A resident's question → an :class:`~bot.records.Answer`: screening, retrieval, extraction, the decision."""
