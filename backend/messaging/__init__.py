"""Messaging: notification preferences, device tokens, linked chats, the inbox and deliveries."""
