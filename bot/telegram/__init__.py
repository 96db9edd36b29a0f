"""The Telegram front end: the application, its handlers, receiving updates, sending replies."""
