"""Allows `python -m milestones`."""

from milestones.cli import main

# Guarded: bulk detection starts a worker process by "spawn", which imports this module again.
if __name__ == "__main__":
    main()
