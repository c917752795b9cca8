"""Pure, frozen domain models. No I/O is imported here."""
