"""Modal screens: keys, details, resolving an unconfirmed submission, confirmations."""
