"""The `stylealign` command-line front end (see `stylealign --help`)."""
