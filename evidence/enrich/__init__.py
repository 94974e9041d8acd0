"""Enrich: the build's steps after the records are written: NLP, outcome tags,
passages and embeddings, links, and the checks that guard what is published;
codebooks and the evaluation of the tagger.
"""
