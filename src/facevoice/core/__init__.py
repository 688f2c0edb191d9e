"""The bottom layer: registry, recipes' config parsing, shared types, seeding, hashing, logging, threads.

Nothing here imports another facevoice package.
"""
