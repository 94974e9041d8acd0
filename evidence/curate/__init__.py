"""Curate: what curators do: add a story or finding, import candidates kept from
`evidence extract`, review tags and personal data, withdraw; every action
writes one content file and runs the build (write.py).
"""
