"""The ML core: plain Python, NumPy and (only where a model is trained) Keras. No Django.

Django code calls into this package, never the other way round, so everything here can be
tested and benchmarked on arrays alone.
"""
