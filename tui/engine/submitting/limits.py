"""How much one submission may make — read by the configuration's checks and the
command line's options, which need these figures and nothing else of ``batch``."""

MAX_VARIATIONS = 100
MAX_TASKS = 10_000  # [batch] max_tasks: what one submission may make at most
