"""Telegram adapters, the conversation core, console mode and storage for the massage FAQ bot."""
