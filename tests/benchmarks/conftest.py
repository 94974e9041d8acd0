"""Scripts here print figures; they are not tests (tests/test_*.py import what they need)."""
collect_ignore_glob = ["*.py"]
