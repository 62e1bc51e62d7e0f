import os

# Keep BLAS single-threaded in tests: small matrices, 2 cores (see docs/architecture.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
