"""Channels: thin layers that turn a resident's message into ``Assistant.ask`` and format the answer."""
