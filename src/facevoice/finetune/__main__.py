"""``python -m facevoice.finetune CONFIG [options]`` is ``facevoice finetune CONFIG [options]``.

For launchers that take a module: ``torchrun --standalone --nproc_per_node 2 -m facevoice.finetune cfg.yaml``
or ``accelerate launch --cpu --num_processes 2 -m facevoice.finetune cfg.yaml``.
"""

from __future__ import annotations

import sys


def main() -> None:
    from facevoice.cli import app

    app(["finetune", *sys.argv[1:]], prog_name="facevoice finetune")


if __name__ == "__main__":
    main()
