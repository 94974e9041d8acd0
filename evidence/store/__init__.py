"""Store: the working SQLite database (schema and migrations, row shapes, every
write of the build, the sweep), the public database, the writer lock and
the default paths.
"""
