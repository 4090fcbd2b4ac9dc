"""The `bth` command line: a thin Click facade over the bathos library."""
