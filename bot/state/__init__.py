"""The bot's state: per-chat context, unanswered questions, the inbox and the outbox."""
