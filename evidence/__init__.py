"""evidence: an open evidence base for community-centred social care.

Stories and research findings live as files (stories/, findings/,
approaches/), are built into SQLite, tagged by outcome domain and published
with Datasette. See README.md.
"""
__version__ = "0.1.0"

# sqlite-utils would import pandas (a second of every command) for a type
# mapping nothing here uses: see evidence/models/torchfree.py
from evidence.models import torchfree as _torchfree  # noqa: E402

_torchfree.install()
