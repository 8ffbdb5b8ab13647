"""Where things live, the API key and endpoint, and the user's config file."""
