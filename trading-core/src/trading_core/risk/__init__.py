"""Risk: pure pre-trade checks over frozen inputs. No I/O is imported here."""
