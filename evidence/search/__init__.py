"""Search: the in-memory vector index, its sign-bit first pass, filters, the
query (search and similar return ids, scores and passages) and relevance
measures.
"""
