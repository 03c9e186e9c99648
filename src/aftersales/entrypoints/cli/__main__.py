"""``python -m aftersales.entrypoints.cli``: the same as the ``aftersales`` command."""

from aftersales.entrypoints.cli import main

if __name__ == "__main__":
    main()
