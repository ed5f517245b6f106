"""``python -m dancegen`` (and ``torchrun -m dancegen``) runs the CLI."""

from dancegen.cli import main

if __name__ == "__main__":
    main()
