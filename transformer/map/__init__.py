"""The map stage: PIM JSON in, view models out, already in SFCC terms.

Pure: nothing here reads the store or the PIM; what mapping one record needs from the rest
of the PIM comes in as plain data or as a lookup (`products.Catalog`) that the engine passes.
"""
