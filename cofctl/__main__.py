"""``python -m cofctl``: the same CLI as the ``cof`` and ``cofctl`` scripts."""

from cofctl.entry import main

if __name__ == "__main__":
    main(prog_name="cof")
