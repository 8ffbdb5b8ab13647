"""pixverse-tui: a terminal dashboard for PixVerse text-to-video on DashScope."""

__version__ = "0.1.0"
