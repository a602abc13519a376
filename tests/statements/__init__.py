"""Tests of the statement parsers owned here: OFX and cheque logs."""
