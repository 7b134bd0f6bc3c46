"""The Telegram channel (python-telegram-bot): the application, its handlers, the wizard, the HTML format."""
