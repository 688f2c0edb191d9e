"""``python -m facevoice COMMAND ...`` is ``facevoice COMMAND ...``.

For launchers that take a module: ``torchrun --standalone --nproc_per_node 2 -m facevoice extract ...``
or ``accelerate launch --cpu --num_processes 2 -m facevoice finetune cfg.yaml``.
"""

from facevoice.cli import main

if __name__ == "__main__":
    main()
