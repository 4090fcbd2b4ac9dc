"""`python -m bathos_cli` is `bth`."""

from bathos_cli.main import main

main()
