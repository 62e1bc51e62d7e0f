"""Numba kernels: arrays and scalars in, preallocated arrays out; no Python objects, RNG or I/O."""
