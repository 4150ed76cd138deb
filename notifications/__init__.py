"""Notifications to people: Telegram (Bot API) besides the alert command and webhook."""
