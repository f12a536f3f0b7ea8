"""`python -m kdkeras`: the `kdkeras` command."""

from kdkeras.cli.main import main

if __name__ == "__main__":
    main()
