"""Capturing what made a run: git (the only pygit2 import), files, host, SLURM, environment."""
