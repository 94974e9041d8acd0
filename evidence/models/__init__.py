"""Models: the sentence encoders (sentence-transformers, the numpy one, a
fake for tests) and the bundled weights, located and hash-checked once.
"""
