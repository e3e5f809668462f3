"""Pure product logic of the live lane: no Bytewax, no I/O, testable as tables."""
