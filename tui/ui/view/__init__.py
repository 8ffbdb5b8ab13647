"""What the main screen shows, as data: no Textual here (unit-tested without a screen)."""
