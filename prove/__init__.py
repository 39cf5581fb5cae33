"""`make prove`: attacks on the running system, kept as repeatable scripts (issue 9)."""
