"""`import bth`: what a tracked script needs from bathos."""
