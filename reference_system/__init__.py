"""Reference implementation of the PRSM platform (the system under test)."""
