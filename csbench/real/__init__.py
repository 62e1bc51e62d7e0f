"""Real networks: the built-in all-MiniLM-L6-v2 (:mod:`csbench.real.minilm`) and the seed-000 MLP
diagnostics (:mod:`csbench.real.mlp`). Above the tensor loader (:mod:`csbench.tensors`); the ``model``
encoder reads the named MiniLM dictionaries from here."""
