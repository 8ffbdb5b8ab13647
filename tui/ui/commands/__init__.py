"""What the user's keys do, as objects a screen holds: they talk to the store and the
engine and report back as data (``plans``) and notices — no Textual here."""
