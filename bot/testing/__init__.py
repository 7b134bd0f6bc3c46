"""Stand-ins for the servers tests and benchmarks cannot reach: Telegram's Bot API and an OpenAI-compatible
chat API. They speak the real protocols, limits included. Nothing the bot runs imports this package."""
