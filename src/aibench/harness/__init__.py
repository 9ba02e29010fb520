"""The harness: training sessions, their timing, logging, isolation in child processes, and results."""
