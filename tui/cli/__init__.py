"""The command line: scripting, the simulator, and the dashboard's entry point."""
