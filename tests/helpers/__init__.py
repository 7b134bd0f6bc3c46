"""Helpers tests share: knowledge and data folders, the Telegram driver, small hand-made indexes."""
