"""Content: files -> records. The content tree, YAML with line numbers, the record
types and their parsers, what of a story may be published, the personal-data
scanner, tombstones and the pipelines' settings. Knows nothing of SQLite.
"""
