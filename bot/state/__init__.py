"""What channels remember between messages and restarts: history, answer log, feedback, wizards."""
