"""transformers encoders: backbones and pooling (``common``), speech (``audio``), images (``vision``).

Nothing is imported here: the registry names them lazily, so ``import facevoice.encoders`` does not
import transformers.
"""
