"""Degradation operators (image -> degraded image).

- :func:`imresize`: MATLAB-compatible bicubic resize with antialiasing (the LR generator of every SR
  benchmark).
"""

from invrestore.degradations.imresize import imresize, imresize_output_size, resize_weights

__all__ = ["imresize", "imresize_output_size", "resize_weights"]
